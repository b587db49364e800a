"""WordNet 3.0 relations as a knowledge graph for link prediction (book §8.4.5, R-GCN).

Source: Debian package ``wordnet-base`` 1:3.0 (``apt-get install --no-install-recommends
wordnet-base``, or ``make data``; WordNet 3.0 licence, Princeton University), files
``/usr/share/wordnet/data.{noun,verb,adj,adv}`` (or a copy in ``<root>/wordnet/``). Each synset
line lists its pointers ``symbol offset pos source/target``; a synset is an entity, a pointer of a
kept kind is a triple ``(head synset, relation, tail synset)``.

**WN18RR-style relations.** Dettmers et al. (2018) built WN18RR from WN18 (Bordes et al. 2013) by
dropping the relations that are the inverse of another one (hyponym of hypernym, holonym of
meronym, ...), because a test triple ``(t, hyponym, h)`` is answered by looking up the training
triple ``(h, hypernym, t)``. The same 11 relations are kept here, read from the pointer symbols of
the WordNet files (:data:`WN18RR_POINTERS`); the inverse pointers (``~``, ``~i``, ``#m``, ``#p``,
``-c``, ``;u``, ``;r``) are never read.

**Entities.** All of WordNet has 112,199 synsets in these relations (218,367 triples). The loader
keeps the ``core``-core (every entity in at least ``core`` triples, applied until stable): ``core=3``
gives 37,988 entities / 111,749 triples (the size of WN18RR: 40,943 / 93,003), the default
``core=4`` 17,053 entities / 57,646 triples (57,538 after dropping val/test triples with an entity unseen in training), small enough to train an R-GCN on a CPU.

**Split** (fixed by ``seed``, default 0): triples are grouped by their *unordered* entity pair and
whole groups go to train / val / test (90 / 5 / 5 %), so no test pair is linked in training in
either direction or by another relation. This is stricter than WN18RR, which still leaks through
its symmetric relations (derivationally related form, similar to, verb group, also see: Dettmers
et al. 2018, §5; Akrami et al. 2020). Val/test triples with an entity absent from training are
dropped (transductive setting).

``TRIPLES_SHA256`` pins the parsed triples: another WordNet version raises :class:`DataError`
(``verify=False`` accepts it).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ...errors import ConfigError, DataError
from .. import DatasetInfo, register_dataset
from ..download import missing
from ..splits import check_split

PACKAGED = Path("/usr/share/wordnet")
POS_FILES = ("noun", "verb", "adj", "adv")
OBTAIN = ("`apt-get install --no-install-recommends wordnet-base` (Debian/Ubuntu; or `make data`), "
          "or copy its data.noun/data.verb/data.adj/data.adv into <root>/wordnet/")
#: WordNet pointer symbol -> WN18RR relation name (WordNet's wninput(5WN) lists the symbols).
WN18RR_POINTERS = {
    "@": "hypernym", "@i": "instance_hypernym", "+": "derivationally_related_form",
    "^": "also_see", "%m": "member_meronym", "%p": "has_part", ";c": "synset_domain_topic_of",
    "-u": "member_of_domain_usage", "-r": "member_of_domain_region", "$": "verb_group",
    "&": "similar_to",
}
RELATIONS = tuple(sorted(WN18RR_POINTERS.values()))
#: sha256 of the sorted ``head\trelation\ttail`` lines parsed from WordNet 3.0 (all 218,367 triples)
TRIPLES_SHA256 = "eb7473c8160de3c8f8a27b615108457b27fa428263d4c29e90231cc448c4109d"


@dataclass
class KnowledgeGraph:
    """Triples ``(M, 3)`` of ``(head, relation, tail)`` ids for one split, with the id tables.

    ``entities[i]`` is synset ``i`` as ``"<offset><pos>"`` (e.g. ``"00001740n"``), ``names[i]`` its
    first lemma; ``relations[r]`` the relation name. ``known`` holds the triples of every split
    (train, val, test): the filtered ranking protocol removes them from a query's candidates.
    """

    triples: Tensor
    entities: tuple[str, ...]
    names: tuple[str, ...]
    relations: tuple[str, ...]
    known: Tensor
    split: str
    meta: dict = field(default_factory=dict)

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def __len__(self) -> int:
        return self.triples.size(0)


def wordnet_dir(root: Path) -> Path | None:
    for d in (Path(root) / "wordnet", PACKAGED):
        if all((d / f"data.{p}").is_file() for p in POS_FILES):
            return d
    return None


def parse_wordnet(folder: Path) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """All WN18RR-relation triples of the WordNet data files in ``folder`` (sorted, unique) and
    the first lemma of every synset. Adjective satellites (``s``) are adjectives (``a``)."""
    triples, names = set(), {}
    for pos in POS_FILES:
        with open(folder / f"data.{pos}", encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  "):  # the licence header
                    continue
                f = line.split(" | ", 1)[0].split()
                try:
                    p = "a" if f[2] == "s" else f[2]
                    head = f[0] + p
                    words = int(f[3], 16)
                    names[head] = f[4]
                    i = 4 + 2 * words
                    for k in range(int(f[i])):
                        sym, off, tpos = f[i + 1 + 4 * k: i + 4 + 4 * k]
                        if sym in WN18RR_POINTERS:
                            triples.add((head, WN18RR_POINTERS[sym], off + ("a" if tpos == "s" else tpos)))
                except (IndexError, ValueError):
                    raise DataError(f"{folder / f'data.{pos}'}: line {line[:40]!r}... is not a WordNet "
                                    f"synset line; the file is damaged, reinstall wordnet-base") from None
    return sorted(triples), names


def k_core(triples: Tensor, k: int) -> Tensor:
    """The rows of ``triples (M, 3)`` whose head and tail are both in at least ``k`` of the kept
    rows (repeated until nothing changes: the ``k``-core of the multigraph)."""
    kept = triples
    while True:
        n = int(kept[:, [0, 2]].max()) + 1 if len(kept) else 0
        deg = torch.bincount(kept[:, 0], minlength=n) + torch.bincount(kept[:, 2], minlength=n)
        keep = (deg[kept[:, 0]] >= k) & (deg[kept[:, 2]] >= k)
        if bool(keep.all()):
            return kept
        kept = kept[keep]


@functools.lru_cache(maxsize=4)
def _build(folder: str, core: int, seed: int, verify: bool) -> dict:
    triples, names = parse_wordnet(Path(folder))
    if verify:
        digest = hashlib.sha256("".join(f"{h}\t{r}\t{t}\n" for h, r, t in triples).encode()).hexdigest()
        if digest != TRIPLES_SHA256:
            raise DataError(f"the WordNet files in {folder} give {len(triples)} triples that differ from "
                            "WordNet 3.0 (218,367 triples), which the fixed split was made on; install "
                            "Debian wordnet-base 1:3.0, or pass verify=False to accept another split")
    every = sorted({h for h, _, _ in triples} | {t for _, _, t in triples})
    eid = {e: i for i, e in enumerate(every)}
    rid = {r: i for i, r in enumerate(RELATIONS)}
    kept = k_core(torch.tensor([[eid[h], rid[r], eid[t]] for h, r, t in triples], dtype=torch.long), core)
    # renumber the kept synsets 0..N-1 in the order of their ids (sorted synset keys)
    used, inverse = torch.unique(kept[:, [0, 2]], return_inverse=True)
    all_t = torch.stack([inverse[:, 0], kept[:, 1], inverse[:, 1]], 1)
    ents = [every[i] for i in used.tolist()]
    # group by unordered pair; whole groups go to one split
    lo, hi = all_t[:, [0, 2]].min(1).values, all_t[:, [0, 2]].max(1).values
    pairs, group = torch.unique(lo * len(ents) + hi, return_inverse=True)
    perm = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))
    where = torch.empty(len(pairs), dtype=torch.long)
    a, b = int(0.9 * len(pairs)), int(0.95 * len(pairs))
    where[perm[:a]], where[perm[a:b]], where[perm[b:]] = 0, 1, 2
    part = where[group]
    train = all_t[part == 0]
    seen = torch.zeros(len(ents), dtype=torch.bool)
    seen[train[:, 0]] = True
    seen[train[:, 2]] = True
    out = {"train": train}
    for name, code in (("val", 1), ("test", 2)):
        t = all_t[part == code]
        out[name] = t[seen[t[:, 0]] & seen[t[:, 2]]]
    out["known"] = torch.cat([out["train"], out["val"], out["test"]])
    out["entities"], out["names"] = tuple(ents), tuple(names.get(e, e) for e in ents)
    return out


@register_dataset("wordnet-kg", info=DatasetInfo(
    "wordnet-kg", "link-prediction",
    "WordNet 3.0, 11 WN18RR relations, 4-core: 17,053 synsets, 57,538 triples (90/5/5 by entity pair)",
    "Debian wordnet-base (WordNet 3.0, Princeton licence); WN18RR-style relations (Dettmers et al. 2018)",
    "graph", model="rgcn"), available=lambda root: wordnet_dir(root) is not None)
def wordnet_kg(root: Path, split: str = "train", core: int = 4, seed: int = 0,
               verify: bool = True) -> KnowledgeGraph:
    """One split (``"train"``, ``"val"``, ``"test"`` or ``"all"``) of the WordNet knowledge graph;
    see the module docstring for the relations, the ``core`` filter and the split."""
    check_split(split, ("train", "val", "test", "all"), "wordnet-kg")
    if core < 1:
        raise ConfigError(f"core must be >= 1 (every entity in at least `core` triples), got {core}")
    d = wordnet_dir(root)
    if d is None:
        raise missing("wordnet-kg", [f"data.{p}" for p in POS_FILES], [Path(root) / "wordnet", PACKAGED], OBTAIN)
    b = _build(str(d), core, seed, verify)
    triples = b["known"] if split == "all" else b[split]
    return KnowledgeGraph(triples=triples, entities=b["entities"], names=b["names"], relations=RELATIONS,
                          known=b["known"], split=split, meta={"core": core, "seed": seed, "source": str(d)})
