"""The papers' benchmarks: read a dataset copy, write vistakit's JSONL rows and image files.

    vistakit prepare slake --source /data/SLAKE --out data/slake          # the original release folder
    vistakit prepare chartqa --source HuggingFaceM4/ChartQA --out data/chartqa --splits test

A source is, in this order:
1. a folder made by `vistakit prepare` (it holds `benchmark.json`): used as it is;
2. a folder holding the benchmark's original release (each loader says which files it expects);
3. a folder made by `datasets`' `save_to_disk`, or a local copy of the hub repository's parquet/arrow files;
4. a Hugging Face dataset id, read with `datasets.load_dataset` (needs the hub, or the `datasets` cache).
A path that does not exist, or a hub id that cannot be loaded, stops with a message naming the benchmark's
hub id and its original release URL. A bad row stops with the file (or hub split), the row and the field.

Output, per benchmark folder: `{split}.jsonl` (one vistakit row per query, `task` = the benchmark's task),
`images/` (content-addressed: an image shared by many questions is written once, in its original bytes),
`benchmark.json` (where it came from). A split file is written last and atomically, so an existing one is
finished: preparing again skips it, without touching the source.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from PIL import Image, UnidentifiedImageError

from vistakit.tasks.data import DataError
from vistakit.runfolder import read_jsonl, write_json, write_jsonl

# one query: (vistakit row without "image", its images as bytes or file paths, where it came from)
Row = tuple[dict, list, str]
MARKER = "benchmark.json"
TRAIN = "train"  # every benchmark's training split is called this


@dataclass(frozen=True)
class Benchmark:
    name: str  # the name in configs and on the command line; also the task its rows get
    title: str
    hf_id: str
    release_url: str
    release_files: str  # what the original release folder holds, for messages
    splits: tuple[str, ...]  # vistakit split names
    eval_split: str
    is_release: Callable[[Path], bool]
    from_release: Callable[[Path, str], Iterator[Row]]
    from_hub: Callable[[Any, str, str], Iterator[Row]] | None = None  # (one hub split, split, where) -> rows
    hub_splits: Mapping[str, str] = field(default_factory=dict)  # vistakit split -> hub split, where they differ
    hub_config: str | None = None
    hub_files: tuple[str, ...] = ()  # the hub repo IS the release (SLAKE): files to download from it
    notes: str = ""

    def where_to_get(self) -> str:
        return (f"Get {self.title} from the Hugging Face hub (`{self.hf_id}`, "
                f"https://huggingface.co/datasets/{self.hf_id}) or from its original release ({self.release_url}: "
                f"{self.release_files}), then pass the local folder as `--source PATH` (vistakit prepare) or "
                f"`data.sources.{self.name}=PATH` (vistakit run).")


BENCHMARKS: dict[str, Benchmark] = {}


def register_benchmark(bench: Benchmark) -> Benchmark:
    BENCHMARKS[bench.name] = bench
    return bench


def get_benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[name]


# --- helpers for loaders ----------------------------------------------------------------------------------

def need(record: Mapping, key: str, where: str, kinds: tuple = (str,)) -> Any:
    """record[key], present, not empty and of one of `kinds`; else a DataError naming where and the field."""
    if not isinstance(record, Mapping):
        raise DataError(f"{where}: a record must be an object, got {type(record).__name__}")
    value = record.get(key)
    if value is None or value == "":
        raise DataError(f"{where}: field '{key}' is missing or empty")
    if not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds:
        names = "/".join(k.__name__ for k in kinds)
        raise DataError(f"{where}: field '{key}' must be {names}, got {type(value).__name__} {value!r}")
    return value


def answer_text(record: Mapping, key: str, where: str) -> str:
    """Answers are strings, but some releases store numbers (VQA-RAD, SLAKE): read either."""
    value = need(record, key, where, (str, int, float))
    text = str(value).strip()
    if not text:
        raise DataError(f"{where}: field '{key}' is empty")
    return text


EXPECTED = {list: "a JSON list of records", dict: "a JSON object of pid -> problem"}


def read_json(path: Path, expect: type | None = None) -> Any:
    """A release's JSON file; `expect` (list or dict): its top level must be one, else DataError naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON: {e}") from None
    if expect is not None and not isinstance(value, expect):
        raise DataError(f"{path}: expected {EXPECTED[expect]}")
    return value


def hub_image(value: Any, where: str, key: str) -> bytes | Path:
    """An image cell of a hub dataset read with decode=False: {"bytes": ..., "path": ...}."""
    if isinstance(value, Mapping):
        if value.get("bytes"):
            return value["bytes"]
        if value.get("path"):
            return Path(value["path"])
    raise DataError(f"{where}: field '{key}' holds no image")


def strip_image_tags(text: str) -> str:
    """Hub copies put `<image>` placeholders in the text; vistakit's chat template places the image itself."""
    return " ".join(text.replace("<image>", " ").split()) if "<image>" in text else text.strip()


# --- sources ----------------------------------------------------------------------------------------------

def _is_local(source: str) -> bool:
    """Hub ids look like `owner/name`; anything else (absolute, relative with ./, deeper paths) is a path."""
    return Path(source).expanduser().exists() or source.startswith(("/", ".", "~")) or source.count("/") != 1


def _has_hub_files(path: Path) -> bool:
    return any(True for pattern in ("*.parquet", "*.arrow") for _ in path.rglob(pattern))


def _undecoded(ds):
    """Image columns as {"bytes", "path"}: images are written in their original bytes, never re-encoded."""
    from datasets import Image as HFImage

    for key, feature in ds.features.items():
        if isinstance(feature, HFImage):
            ds = ds.cast_column(key, HFImage(decode=False))
        elif isinstance(getattr(feature, "feature", None), HFImage):
            ds = ds.cast_column(key, type(feature)(HFImage(decode=False)))
    return ds


def _datasets():
    try:
        import datasets
    except ImportError:
        raise DataError("reading a hub copy needs the `datasets` package: pip install 'vistakit[bench]'") from None
    return datasets


class Source:
    """One dataset copy; rows of a split are read only when a split file must be written."""

    def __init__(self, bench: Benchmark, source: str):
        self.bench, self.source = bench, source
        self.kind, self.path, self._hub = None, None, None
        path = Path(source).expanduser()
        if _is_local(source):
            if not path.exists():
                raise DataError(f"{bench.name}: {source}: no such file or folder. {bench.where_to_get()}")
            self.path = path
            if (path / MARKER).exists():
                self.kind = "prepared"
            elif bench.is_release(path):
                self.kind = "release"
            elif (path / "dataset_dict.json").exists() or (path / "state.json").exists():
                self.kind, self._hub = "disk", _datasets().load_from_disk(str(path))
            elif _has_hub_files(path):
                self.kind = "hub-folder"
            else:
                raise DataError(f"{bench.name}: {source} is not a copy vistakit can read: expected the original "
                                f"release ({bench.release_files}), a `save_to_disk` folder, or the parquet/arrow "
                                f"files of the hub repository {bench.hf_id}. {bench.where_to_get()}")
        else:
            self.kind = "hub"

    def rows(self, split: str) -> Iterator[Row]:
        bench = self.bench
        if self.kind == "hub" and bench.hub_files:  # the hub repo holds the original release files
            self.path, self.kind = self._snapshot(), "release"
        if self.kind == "release":
            return bench.from_release(self.path, split)
        if bench.from_hub is None:
            raise DataError(f"{bench.name}: {self.source}: only the original release can be read "
                            f"({bench.release_files}). {bench.where_to_get()}")
        hub_split = bench.hub_splits.get(split, split)
        return bench.from_hub(_undecoded(self._hub_split(hub_split)), split, f"{self.source} [{hub_split}]")

    def _snapshot(self) -> Path:
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(self.source, repo_type="dataset", allow_patterns=list(self.bench.hub_files)))
        except Exception as e:  # offline, unknown repo, no permission: all end the same way
            raise DataError(f"{self.bench.name}: cannot download {self.source!r} from the Hugging Face hub "
                            f"({type(e).__name__}: {str(e)[:200]}). {self.bench.where_to_get()}") from None

    def _hub_split(self, hub_split: str):
        datasets = _datasets()
        if self.kind == "disk":
            data = self._hub
            if isinstance(data, datasets.Dataset):
                return data  # a single saved split: it is the one asked for
            if hub_split not in data:
                raise DataError(f"{self.bench.name}: {self.source} has no split {hub_split!r} "
                                f"(it has: {', '.join(data)})")
            return data[hub_split]
        where = str(self.path) if self.kind == "hub-folder" else self.source
        config = self.bench.hub_config if self.kind == "hub" else None
        # a local copy without the hub's README names splits by file: the hub's "val" may read as "validation"
        candidates = list(dict.fromkeys([hub_split, *(s for s, h in self.bench.hub_splits.items() if h == hub_split)]))
        for i, name in enumerate(candidates):
            try:
                return datasets.load_dataset(where, config, split=name)
            except ValueError as e:
                if "split" not in str(e).lower():
                    raise DataError(f"{self.bench.name}: cannot read {where}: {e}. {self.bench.where_to_get()}") from None
                if i == len(candidates) - 1:
                    raise DataError(f"{self.bench.name}: {where} has no split {hub_split!r}: {e}") from None
            except Exception as e:  # ConnectionError offline, FileNotFoundError for an unknown id, ...
                raise DataError(f"{self.bench.name}: cannot load {where!r} ({type(e).__name__}: {str(e)[:200]}). "
                                f"{self.bench.where_to_get()}") from None


# --- writing ----------------------------------------------------------------------------------------------

_EXT = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif"}


def save_image(data: bytes | Path, images_dir: Path, where: str) -> str:
    """Write one image (its original bytes) under a name made from its content; returns 'images/<name>'."""
    if isinstance(data, Path):
        try:
            data = data.read_bytes()
        except OSError as e:
            raise DataError(f"{where}: field 'image': cannot read {data}: {e.strerror or e}") from None
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
            im.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"{where}: field 'image': not a readable image: {e}") from None
    name = hashlib.sha1(data).hexdigest()[:24] + _EXT.get(fmt or "", f".{(fmt or 'img').lower()}")
    target = images_dir / name
    if not target.exists():
        images_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)  # a killed run never leaves a truncated image under the final name
    return f"images/{name}"


def prepare(name: str, source: str | None, out_dir: str | Path, splits: list[str] | None = None,
            limit: int | None = None) -> dict[str, Path]:
    """Write `out_dir/{split}.jsonl` + images for each split; returns {split: jsonl path}. A prepared folder
    given as the source is returned as it is (nothing copied)."""
    bench = get_benchmark(name)
    splits = list(splits or bench.splits)
    for split in splits:
        if split not in bench.splits:
            raise DataError(f"{bench.name} has no split {split!r}; it has: {', '.join(bench.splits)}")
    source = source or bench.hf_id
    out_dir = Path(out_dir)
    files = {split: out_dir / f"{split}.jsonl" for split in splits}
    if all(f.exists() for f in files.values()) and (out_dir / MARKER).exists():
        return files  # finished before: the source is not even looked at
    src = Source(bench, source)
    if src.kind == "prepared":
        return _prepared_files(bench, src.path, splits)
    counts = {}
    for split, out_file in files.items():
        if not out_file.exists():
            rows = []
            for row, images, where in src.rows(split):
                if limit is not None and len(rows) >= limit:
                    break
                if not images:
                    raise DataError(f"{where}: field 'image': the query has no image")
                paths = [save_image(im, out_dir / "images", where) for im in images]
                rows.append({"id": row.pop("id"), "task": bench.name, **row,
                             "image": paths[0] if len(paths) == 1 else paths})
            if not rows:
                raise DataError(f"{bench.name}: split {split!r} of {source} has no usable rows")
            write_jsonl(out_file, rows)
        counts[split] = sum(1 for _ in open(out_file))
    meta = json.loads((out_dir / MARKER).read_text()) if (out_dir / MARKER).exists() else {}
    write_json(out_dir / MARKER, {"benchmark": bench.name, "source": str(source), "limit": limit,
                                  "splits": {**meta.get("splits", {}), **counts}})
    return files


def _prepared_files(bench: Benchmark, path: Path, splits: list[str]) -> dict[str, Path]:
    meta = read_json(path / MARKER)
    if meta.get("benchmark") != bench.name:
        raise DataError(f"{path} was prepared for benchmark {meta.get('benchmark')!r}, not {bench.name!r}")
    files = {split: path / f"{split}.jsonl" for split in splits}
    missing = [s for s, f in files.items() if not f.exists()]
    if missing:
        raise DataError(f"{path} (prepared {bench.name}) has no split {', '.join(missing)}; run "
                        f"`vistakit prepare {bench.name} --source ORIGINAL --out {path} --splits {','.join(missing)}`")
    return files


# --- a run's data: the training split of several benchmarks, and the evaluation sets --------------------

def parse_eval_set(spec: str) -> tuple[str, str]:
    """`slake` -> (slake, its standard evaluation split); `scienceqa:validation` -> (scienceqa, validation)."""
    name, _, split = spec.partition(":")
    return name, split or get_benchmark(name).eval_split


def needed_splits(data) -> dict[str, list[str]]:
    """Which splits of which benchmark a run's `data` section reads (train splits, then evaluation splits)."""
    needed: dict[str, list[str]] = {}
    for name in data.train_sets:
        needed.setdefault(name, []).append(TRAIN)
    for spec in data.eval_sets:
        name, split = parse_eval_set(spec)
        needed.setdefault(name, [])
        if split not in needed[name]:
            needed[name].append(split)
    for name in list(needed) + list(data.sources):
        get_benchmark(name)  # unknown names stop here, before anything is read
    return needed  # (data.sources naming an unused benchmark is refused when the config loads)


def prepare_sets(data, data_dir: Path) -> dict[str, dict[str, Path]]:
    """Every benchmark split the config needs, prepared under `data_dir/<benchmark>/` (or read from a prepared
    source folder); {benchmark: {split: jsonl}}."""
    return {name: prepare(name, data.sources.get(name), data_dir / name, splits, data.max_queries_per_set)
            for name, splits in needed_splits(data).items()}


def write_training_split(data, data_dir: Path) -> Path:
    """`data_dir/<train_split>.jsonl`: the train splits of `data.train_sets`, concatenated, image paths made
    relative to data_dir. Returns data_dir, the folder the loop reads its splits from."""
    files = prepare_sets(data, data_dir)
    out = data_dir / f"{data.train_split}.jsonl"
    if not out.exists():
        rows = []
        for name in data.train_sets:
            src = files[name][TRAIN]
            for row in read_jsonl(src)[: data.max_queries_per_set]:
                images = row["image"] if isinstance(row["image"], list) else [row["image"]]
                rel = [os.path.relpath(src.parent / p, data_dir) for p in images]
                rows.append({**row, "image": rel[0] if len(rel) == 1 else rel})
        write_jsonl(out, rows)
    return data_dir


def eval_set_files(data, data_dir: Path) -> dict[str, Path]:
    """{eval set name as written in data.eval_sets: its jsonl}."""
    files = prepare_sets(data, data_dir)
    return {spec: files[parse_eval_set(spec)[0]][parse_eval_set(spec)[1]] for spec in data.eval_sets}
