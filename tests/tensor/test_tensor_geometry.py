"""Geometry (§2.3, §2.5.1): rotations, point-cloud layouts, meshes, MDS, PCA, Riemannian geodesics."""

import math

import pytest
import torch

from tensorprism.errors import ShapeError
from tensorprism.tensor.geometry import (
    Mesh,
    PointCloud,
    affine,
    axis_angle,
    check_rotation,
    classical_mds,
    great_circle_distance,
    is_orthogonal,
    matrix_to_quaternion,
    pairwise_distances,
    pca,
    quaternion_to_matrix,
    rotation_2d,
    rotation_x,
    rotation_y,
    rotation_z,
    sphere_metric,
    spherical_to_cartesian,
)


def test_book_rotation_and_affine_examples():
    """l.1536–1540: A = diag(2, 3), b = (1, 1); l.1558–1566: Q(π/4)(1, 0) = (√2/2, √2/2)."""
    x = torch.tensor([[1.0, 1.0], [2.0, -1.0]])
    torch.testing.assert_close(affine(x, torch.diag(torch.tensor([2.0, 3.0])), torch.ones(2)),
                               torch.stack([2 * x[:, 0] + 1, 3 * x[:, 1] + 1], 1))
    torch.testing.assert_close(rotation_2d(math.pi / 4) @ torch.tensor([1.0, 0.0]),
                               torch.full((2,), math.sqrt(2) / 2))
    assert is_orthogonal(rotation_2d(0.3))


def test_axis_rotations_axis_angle_and_quaternions_agree():
    t = torch.tensor(0.7, dtype=torch.float64)
    e = torch.eye(3, dtype=torch.float64)
    for axis, rot in zip(e, (rotation_x, rotation_y, rotation_z), strict=True):
        torch.testing.assert_close(axis_angle(axis, t), rot(t))
        half = torch.cat([torch.cos(t / 2)[None], torch.sin(t / 2) * axis])
        torch.testing.assert_close(quaternion_to_matrix(half), rot(t))
    # round trip, including angles near pi where the trace-based formula is unstable
    for r in (rotation_x(3.1), axis_angle(torch.tensor([1.0, -2.0, 0.5]), 3.14), rotation_y(-0.2)):
        torch.testing.assert_close(quaternion_to_matrix(matrix_to_quaternion(r)), r, atol=1e-5, rtol=0)
    batch = axis_angle(torch.randn(5, 3), torch.rand(5))
    assert batch.shape == (5, 3, 3) and is_orthogonal(batch)


def test_check_rotation_rejects_non_orthogonal_and_reflections():
    check_rotation(rotation_z(0.4))
    with pytest.raises(ValueError, match="not orthogonal"):
        check_rotation(2 * torch.eye(3))
    with pytest.raises(ValueError, match="reflection"):
        check_rotation(torch.diag(torch.tensor([1.0, 1.0, -1.0])))


def test_point_cloud_layout_is_explicit_and_transforms_follow_the_book():
    """l.1809–1851: translate P + t, rotate P R^T, scale P · s, for rows; columns via layout='3N'."""
    rows = torch.randn(7, 3)
    cols = rows.T.clone()
    r = rotation_z(0.5)
    a = PointCloud(rows).rotate(r).translate(torch.tensor([1.0, 2.0, 3.0])).scale([2.0, 2.0, 2.0])
    b = PointCloud(cols, layout="3N").rotate(r).translate(torch.tensor([1.0, 2.0, 3.0])).scale([2.0, 2.0, 2.0])
    torch.testing.assert_close(a.points, b.points)
    torch.testing.assert_close(b.as_layout("3N"), 2 * ((r @ cols) + torch.tensor([[1.0], [2.0], [3.0]])))
    with pytest.raises(ValueError, match="layout"):
        PointCloud(rows, layout="auto")


def test_mesh_faces_are_integer_zero_based_and_import_one_based():
    """l.1799 prints F = [[1,2,3],[2,3,4]] (1-based) in a real tensor (erratum E28)."""
    v = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    mesh = Mesh.from_one_based(v, [[1, 2, 3], [2, 3, 4]])
    assert mesh.faces.dtype == torch.long and mesh.faces.tolist() == [[0, 1, 2], [1, 2, 3]]
    with pytest.raises(ShapeError, match="from_one_based"):
        Mesh(v, torch.tensor([[1, 2, 3], [2, 3, 4]]))
    moved = mesh.rotate(rotation_x(math.pi)).translate(torch.tensor([0.0, 0.0, 1.0]))
    assert torch.equal(moved.faces, mesh.faces)
    torch.testing.assert_close(moved.face_normals(), torch.tensor([[0.0, 0, -1], [0, 0, 1]]))
    assert mesh.edges().tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]


def test_pairwise_distances_and_mds_recover_a_configuration():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10, 2, generator=gen, dtype=torch.float64)
    d = pairwise_distances(x)
    torch.testing.assert_close(d, torch.cdist(x, x))
    coords, vals = classical_mds(d, 2)
    torch.testing.assert_close(pairwise_distances(coords), d)  # isometric up to rotation
    assert vals[2:].abs().max() < 1e-9


def test_pca_centres_and_matches_sklearn():
    from sklearn.decomposition import PCA

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(50, 4, generator=gen, dtype=torch.float64) @ torch.randn(4, 4, generator=gen, dtype=torch.float64) + 5
    scores, comps, var = pca(x, 2)
    sk = PCA(2).fit(x.numpy())
    torch.testing.assert_close(var, torch.tensor(sk.explained_variance_))
    torch.testing.assert_close(scores.abs(), torch.tensor(sk.transform(x.numpy())).abs())


def test_christoffel_symbols_of_the_sphere_by_autograd():
    """Γ^θ_φφ = −sinθ cosθ, Γ^φ_θφ = Γ^φ_φθ = cotθ, the rest zero (G = diag(1, sin²θ), l.1584)."""
    theta = 1.1
    gam = sphere_metric().christoffel(torch.tensor([theta, 0.4], dtype=torch.float64))
    ref = torch.zeros(2, 2, 2, dtype=torch.float64)
    ref[0, 1, 1] = -math.sin(theta) * math.cos(theta)
    ref[1, 0, 1] = ref[1, 1, 0] = 1 / math.tan(theta)
    torch.testing.assert_close(gam, ref)


def test_integrated_sphere_geodesic_is_a_great_circle():
    """The geodesic ODE (l.1596) from (θ0, φ0) with velocity v stays on the plane through the origin
    spanned by its start point and direction, and its length equals the great-circle distance."""
    metric = sphere_metric(radius=2.0)
    x0 = torch.tensor([1.0, 0.3], dtype=torch.float64)
    v0 = torch.tensor([0.4, 0.9], dtype=torch.float64)
    xs, vs = metric.geodesic(x0, v0, t1=1.5, steps=60)
    pts = spherical_to_cartesian(xs[:, 0], xs[:, 1], radius=2.0)
    normal = torch.linalg.cross(pts[0], pts[1])
    assert (pts @ normal).abs().max() / normal.norm() < 1e-6  # on one great circle
    speed = torch.sqrt(v0 @ metric(x0) @ v0)  # constant along a geodesic
    arc = great_circle_distance(pts[0], pts[-1], radius=2.0)
    assert arc.item() == pytest.approx(1.5 * speed.item(), rel=1e-6)
    assert metric.length(xs).item() == pytest.approx(arc.item(), rel=1e-3)


def test_great_circle_distance_is_accurate_for_close_and_antipodal_points():
    p = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    assert great_circle_distance(p, torch.tensor([math.cos(1e-9), math.sin(1e-9), 0.0], dtype=torch.float64)).item() == pytest.approx(1e-9)
    assert great_circle_distance(p, -p, radius=6371.0).item() == pytest.approx(math.pi * 6371.0)
