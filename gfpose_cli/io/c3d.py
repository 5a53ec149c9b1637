"""C3D marker files through ezc3d: markers -> 17 joint centres via a skeleton map.

Units come from POINT:UNITS (mm or m), missing samples from residual < 0 or NaN, the rate from
POINT:RATE, and the vertical axis from POINT:Y_SCREEN when the file declares it (else from the
markers: the body is upright most of the time). Label prefixes (`Derrick:`) name subjects.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gfpose_cli.core.errors import READ_ANYWAY, ImplausibleInput, InputError
from gfpose_cli.io.maps import (SkeletonMap, auto_map, cluster_gaps, load_map, missing_note, normalise_name,
                                side_pairs)
from gfpose_cli.io.maps.learn import learned_map
from gfpose_cli.core.skeleton import JOINTS
from gfpose_cli.core.take import MAX_COORDINATE, CompleteReport, DenoiseReport, Provenance, Take
from gfpose_cli.io import c3d_raw
from gfpose_cli.util.last_parse import LastParse
from gfpose_cli.util.runs import runs

UNIT_TO_M = {"mm": 0.001, "cm": 0.01, "m": 1.0, "dm": 0.1}


def _param(params: dict, group: str, name: str):
    """A parameter's value list from {GROUP: {NAME: list}}, or None."""
    try:
        return params[group][name]
    except KeyError:
        return None


#: POINT parameters that list model outputs stored as points (Vicon Plug-in Gait, Polygon, Nexus)
MODEL_OUTPUT_GROUPS = ("ANGLES", "FORCES", "MOMENTS", "POWERS", "SCALARS", "REACTIONS", "MODELED_MARKERS")
#: Plug-in Gait virtual points (bone origins/axes, centre of mass): computed, not measured. A bone's
#: points come as a set with its origin (LCLO with LCLA, LCLL, LCLP): a lone RCLA/LCLA is the older trunk
#: set's clavicle marker (c3d.org's PlugInC3D.c3d), read as a marker
_VIRTUAL = re.compile(r"^(?:(?:PEL|HED|TRX|[LR](?:FE|TI|FO|TO|CL|HU|RA|HN))[OALP]|CENTREOFMASS(?:FLOOR)?|COM|COMFLOOR)$")
#: labels that name a model output whatever group lists them (Plug-in Gait's LHipAngles, RKneeMoment,
#: LAnklePower, RGroundReactionForce, LNormalisedGRF, kept as points by files without the groups, and by TRC exports)
_OUTPUT_NAME = re.compile(r"(?:angles?|moments?|powers?|forces?|reactions?|grf)$", re.IGNORECASE)
#: labels that name no marker: unlabelled trajectories (*12, #), blanks, bare numbers
_UNLABELLED = re.compile(r"^(?:\*\d*|#|\d*|unlabel+ed\d*)$", re.IGNORECASE)


def point_kinds(labels: list[str], params: dict) -> list[str]:
    """What each point is: 'marker', 'model output' (listed in POINT:ANGLES ... or the groups that
    POINT:TYPE_GROUPS names, or named ...Angles, ...Moment, ...Power, ...Force), 'virtual' (Plug-in Gait bone points, centre of mass) or
    'unlabelled'. Only markers are ever moved or filled by gfpose."""
    point = params.get("POINT", {})
    groups = set(MODEL_OUTPUT_GROUPS)
    type_groups = point.get("TYPE_GROUPS") or []
    groups |= {str(v).strip().upper() for v in type_groups[0::2]}
    listed = set()
    for g in groups:
        for v in point.get(g) or []:
            if isinstance(v, str) and v.strip():
                listed.add(v.strip())
    kinds = []
    bares = {label.rsplit(":", 1)[-1].strip().upper() for label in labels}
    for label in labels:
        bare = label.rsplit(":", 1)[-1].strip()
        if label.strip() in listed or bare in listed or _OUTPUT_NAME.search(bare):
            kinds.append("model output")
        elif _UNLABELLED.match(bare):
            kinds.append("unlabelled")
        elif _VIRTUAL.match(bare.upper()) and (len(bare) != 4 or bare.upper()[:3] + "O" in bares):
            kinds.append("virtual")
        else:
            kinds.append("marker")
    return kinds


@dataclass
class C3DData:
    """What gfpose reads of a C3D: parameters, labels, and every point sample with its validity."""

    path: Path
    params: dict  # {GROUP: {NAME: list of values}}
    labels: list[str]
    xyz: np.ndarray  # (F, N, 3) file units and axes
    observed: np.ndarray  # (F, N) valid samples (C3D rules: fourth word >= 0, finite, not exactly 0,0,0)
    first_frame: int
    rate: float
    raw: c3d_raw.RawC3D | None  # the byte layout, for write-back; None where only a library read it
    reader: str  # which reader parsed the parameters: ezc3d, c3d (py-c3d) or gfpose (tolerant walk)
    notes: list[str]
    digest: str


def _ezc3d_params(c) -> dict:
    out = {}
    for g, grp in c["parameters"].items():
        out[g.upper()] = {}
        for k, v in grp.items():
            if k == "__METADATA__":
                continue
            value = v["value"]
            out[g.upper()][k.upper()] = [str(x) for x in value] if isinstance(value, list) else np.asarray(value).ravel().tolist()
    return out


def _pyc3d_params(path: Path) -> dict:
    import warnings

    import c3d as pyc3d

    out: dict = {}
    with open(path, "rb") as handle, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = pyc3d.Reader(handle)
        for gname, group in reader.group_items():
            if not isinstance(gname, str):
                continue
            params = out.setdefault(gname.upper(), {})
            for pname, param in group.param_items():
                try:
                    params[pname.upper()] = _pyc3d_value(param)
                except (ValueError, AssertionError, TypeError):  # an empty or odd-sized value: nothing to read
                    params[pname.upper()] = []
    return out


def _pyc3d_value(param) -> list:
    """A py-c3d Param as a list: strings for char data, numbers otherwise (scalars too)."""
    size = param.bytes_per_element
    # each accessor asserts the element size it reads: only the one that fits is touched (a table
    # of all of them read every one, and a float array came back empty)
    if not param.dimensions:
        if size == -1:
            return [param.bytes_value.decode("latin-1")]
        return [param.float_value if size == 4 else param.int16_value if size == 2 else param.uint8_value]
    if size == -1:
        return [str(s) for s in np.atleast_1d(param.string_array).ravel()]
    array = param.float_array if size == 4 else param.int16_array if size == 2 else param.uint8_array
    return np.atleast_1d(array).ravel().tolist()


def load(path: Path) -> C3DData:
    """Read a C3D file (read-only): parameters through ezc3d (else the `c3d` package, else a
    tolerant walk of the parameter section), points from the file's bytes in its own encoding.

    Why the points come from the bytes: ezc3d reads BTS files whose header and ANALOG parameters
    disagree with the wrong stride (every marker jumps a metre a frame), reads no MIPS/SGI file,
    and neither library follows the specification's invalid-sample rule for float files (a fourth
    word of 65535.0). The layout is the one that accounts for the file's size (c3d_raw._layout),
    and the tests compare it with both libraries on every real fixture they can read.
    """
    import hashlib

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot open ({exc.strerror})") from None
    if not data:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    digest = hashlib.sha256(data).hexdigest()
    kept = _LOADED.get(path, digest)  # read, then written back: the same bytes are parsed once
    if kept is not None:
        return kept
    try:
        raw = c3d_raw.parse(data)
        raw_error = ""
    except c3d_raw.C3DLayoutError as exc:
        raw, raw_error = None, str(exc)
    params, reader, lib_points, why = None, "", None, []
    try:
        c = _open_ezc3d(path)
        params, reader = _ezc3d_params(c), "ezc3d"
        if raw is None:  # only ezc3d makes sense of it: take its points and residuals
            lib_points = (np.asarray(c["data"]["points"], dtype=np.float64)[:3].transpose(2, 1, 0),
                          np.asarray(c["data"]["meta_points"]["residuals"])[0].T >= 0,
                          int(c["header"]["points"]["first_frame"]) + 1)
    except InputError as exc:
        why.append(str(exc).split("(", 1)[-1].rstrip(")") if "(" in str(exc) else str(exc))
    if params is None and raw is not None:
        try:
            params, reader = _pyc3d_params(path), "c3d"
        except Exception:  # noqa: BLE001 - any failure of the second library sends us to the third way
            params, reader = raw.params(), "gfpose"
    if params is None:
        detail = raw_error or (why[0] if why else "its layout is not C3D")
        raise InputError(f"{path}: not a readable C3D file ({detail[:120]}); if your capture software opens it, "
                         "export it again as C3D")
    point = params.get("POINT", {})
    labels = [str(x).replace("\x00", "").strip() for key in ("LABELS", "LABELS2", "LABELS3", "LABELS4")
              for x in (point.get(key) or [])]
    notes = list(raw.notes) if raw is not None else []
    if reader != "ezc3d":
        notes.append(f"read with {'the c3d package' if reader == 'c3d' else 'a tolerant parameter walk'} "
                     "(ezc3d cannot parse this file)")
    if raw is not None:
        xyz, word = raw.points()
        with np.errstate(invalid="ignore"):
            observed = (word >= 0) & np.isfinite(xyz).all(-1) & ~(xyz == 0).all(-1)
        first = raw.first_frame
    else:
        xyz, observed, first = lib_points
        with np.errstate(invalid="ignore"):
            observed = observed & np.isfinite(xyz).all(-1) & ~(xyz == 0).all(-1)
    n = xyz.shape[1]
    labels = labels[:n] + [f"unlabelled{i}" for i in range(len(labels), n)]
    rate = _rate(params, raw)
    xyz.setflags(write=False)  # shared by every caller of the cached load below
    observed.setflags(write=False)
    loaded = C3DData(path=path, params=params, labels=labels, xyz=xyz, observed=observed, first_frame=first, rate=rate,
                     raw=raw, reader=reader, notes=notes, digest=digest)
    return _LOADED.keep(path, digest, loaded)


#: the last C3D load() parsed (a 10-minute take's three parses, each with ezc3d in a sandboxed subprocess
#: too, cost seconds)
_LOADED = LastParse()


def _number_or_zero(value) -> float:  # noqa: ANN001
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _rate(params: dict, raw) -> float:
    value = _param(params, "POINT", "RATE")
    rate = _number_or_zero(value[0]) if value else 0.0
    if not (np.isfinite(rate) and rate > 0) and raw is not None:
        header = float(c3d_raw.decode_floats(raw.data[20:24], raw.proc)[0])
        rate = header if np.isfinite(header) and header > 0 else 0.0
    return rate


def _open_ezc3d(path: Path):
    import ezc3d

    from gfpose_cli.util.sandbox import preflight

    preflight(path, lambda p: ezc3d.c3d(str(p), extract_forceplat_data=False), "C3D")
    try:
        return ezc3d.c3d(str(path), extract_forceplat_data=False)
    except Exception as exc:  # ezc3d raises plain RuntimeError/ValueError on bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "ignoreBadFormatting" in first or "not standard" in first:
            first = "it does not follow the C3D layout"
        raise InputError(f"{path}: not a readable C3D file ({first[:120]})") from None


def open_c3d(path: Path):
    """ezc3d's object for a file (sandboxed parse first): for writers that build a new file."""
    return _open_ezc3d(Path(path))


def subjects_of(labels: list[str]) -> list[str]:
    """Label prefixes before ':' (the subjects of a multi-performer file), most markers first."""
    counts = Counter(label.split(":", 1)[0] for label in labels if ":" in label)
    return [name for name, _ in counts.most_common()]


def chosen_subject(path: Path, labels: list[str], subject: str | None, skeleton_map) -> tuple[str | None, list[str]]:  # noqa: ANN001
    """The subject (label prefix) to read and what to say about it: the one asked for; else the only one;
    else, of several, the only one whose labels a marker set reads by name (a performer handling a prop
    that has markers of its own, `boite:*`), said. Several performers, or none recognised, are refused
    (pick one with --subject)."""
    subjects = subjects_of(labels)
    if subject is not None:
        if subject not in subjects:
            raise InputError(f"{path}: no markers of subject {subject!r}; subjects: {', '.join(subjects) or 'none'}")
        return subject, []
    if len(subjects) <= 1:
        return (subjects[0] if subjects else None), []
    bodies = []
    if skeleton_map in (None, "auto"):
        for who in subjects:
            try:
                auto_map([label for label in labels if label.split(":", 1)[0] == who], str(path), kind="markers")
            except InputError:
                continue
            bodies.append(who)
    if len(bodies) != 1:
        raise InputError(f"{path}: several subjects ({', '.join(subjects)}); pick one with {{subject}}")
    others = [who for who in subjects if who != bodies[0]]
    return bodies[0], [f"subject {bodies[0]} read: no marker set reads the labels of {', '.join(others)} (a prop?); "
                       "--subject picks another"]


def _disambiguate(labels: list[str], descriptions: list[str]) -> list[str]:
    """Repeated labels (BTK's Gait.c3d has RKNE twice: lateral and medial) take their description
    when that is unique; labels that stay ambiguous are left for the clash check to refuse."""
    counts = Counter(normalise_name(label) for label in labels)
    taken = {normalise_name(label) for label in labels}
    out, seen = [], set()
    for label, desc in zip(labels, descriptions):
        key = normalise_name(label)
        if counts[key] > 1 and key in seen and desc and normalise_name(desc) not in taken \
                and sum(d == desc for d in descriptions) == 1:
            out.append(desc)
            taken.add(normalise_name(desc))
        else:
            out.append(label)
        seen.add(key)
    return out


#: copies of one label closer than this (median over the frames both are seen) are one landmark
#: written twice (Davis/BTS files repeat 'c7', 'r asis' in a second, computed block: the skin
#: point moved by the marker's radius, 15 mm); the copy seen in most frames is read
SAME_LANDMARK_M = 0.025


def _one_of_each_copy(names: list[str], repeated: list[str], xyz: np.ndarray,
                      observed: np.ndarray) -> tuple[list[str], list[str]]:
    """For each repeated marker label whose copies agree within SAME_LANDMARK_M, hide all copies but
    the one seen most (the map reads that one; the others are left as they are). Returns the names
    and the labels so resolved; labels whose copies disagree stay repeated (the caller refuses them)."""
    names = list(names)
    done = []
    for key in repeated:
        cols = [i for i, n in enumerate(names) if "\x00" not in n and normalise_name(n) == key]
        agree = True
        for a in cols:
            for b in cols:
                both = observed[:, a] & observed[:, b]
                if a < b and both.any() and np.median(np.linalg.norm(xyz[both, a] - xyz[both, b], axis=-1)) > SAME_LANDMARK_M:
                    agree = False
        if not agree:
            continue
        keep = max(cols, key=lambda i: (observed[:, i].sum(), -i))
        for i in cols:
            if i != keep:
                names[i] = f"{names[i]}\x00copy"
        done.append(key)
    return names, done


def _learned_warning(path: Path, smap: SkeletonMap, body) -> str:
    """What a map learned from the markers' motion found, and how to check and keep it."""
    parts = ", ".join(sorted(body.parts))
    how = (f"its labels name {len(body.segments)} segments ({parts}) but no landmarks; the joint centres were learned from "
           "the markers' motion" if body.source == "labels" else
           f"the skeleton was learned from the markers' motion ({len(body.segments)} rigid segments; found: {parts})")
    notes = f" ({'; '.join(body.notes)})" if body.notes else ""
    return (f"{path}: no marker set matches its names; {how}{notes}: check it, and keep it for the lab's other takes "
            f"with `gfpose maps {path.name} --learn -o mymap.toml`")


def described_names(names: list[str], descriptions: list[str]) -> list[str]:
    """names with each marker's description in place of its label, in the short form marker sets
    use ('Right ASIS' -> 'r asis', 'Right lateral ankle' -> 'r ankle'), where the description is
    there, says something ('*', '', 'TARGET' do not) and is unique in the file; other names are kept."""
    def plain(text: str) -> str:
        words = re.sub(r"[_.\-]+", " ", text.lower()).split()
        words = [{"right": "r", "left": "l"}.get(w, w) for w in words if w not in ("lateral", "marker", "the")]
        return " ".join(words)

    short = [plain(d) for d in descriptions] + [""] * max(0, len(names) - len(descriptions))
    counts = Counter(short)
    out = []
    for name, d in zip(names, short):
        usable = "\x00" not in name and len(d) > 1 and counts[d] == 1 and d not in ("target", "marker")
        out.append(d if usable else name)
    return out


def performers(path: Path) -> list[str]:
    """The performers (label prefixes) of a C3D file, most markers first; empty when unprefixed."""
    return subjects_of(load(Path(path)).labels)


def read(path: Path, skeleton_map: str | SkeletonMap | None = None, subject: str | None = None,
         units: tuple[float, str] | None = None) -> Take:
    """Read a C3D file into a 17-joint Take (metres, Z up); units (metres per unit, name) overrides POINT:UNITS."""
    f = load(path)
    params = f.params
    labels = f.labels
    if f.xyz.shape[1] == 0 or f.xyz.shape[0] == 0:
        rotations = _param(params, "ROTATION", "USED")
        if rotations and _number_or_zero(rotations[0]) > 0:  # Theia3D's markerless output: 4x4 segment poses
            raise InputError(f"{path}: the C3D file holds segment poses (its ROTATION group, as markerless systems "
                             "such as Theia3D write them) and no points; gfpose reads markers or joint positions: "
                             "export the joint centres as points, or the take as BVH")
        what = "no frames" if f.xyz.shape[0] == 0 else "analog channels only"
        raise InputError(f"{path}: the C3D file holds no marker data ({what})")
    kinds = point_kinds(labels, params)
    if not any(k == "marker" for k in kinds):
        what = "only model outputs (angles, forces, moments, powers)" if "model output" in kinds else "no labelled markers"
        raise InputError(f"{path}: the C3D file holds {what}; there is no body to read")
    descriptions = [str(d).strip() for d in (_param(params, "POINT", "DESCRIPTIONS") or [])]
    who, picked = chosen_subject(path, labels, subject, skeleton_map)
    # a performer's labels are prefixed: unprefixed points (another marker set) are not theirs
    keep = [i for i, label in enumerate(labels) if who is None or label.split(":", 1)[0] == who]
    descriptions = [descriptions[i] if i < len(descriptions) else "" for i in keep]
    labels = _disambiguate([labels[i] for i in keep], descriptions)
    kinds = [kinds[i] for i in keep]
    xyz = f.xyz[:, keep]
    observed = f.observed[:, keep]
    is_marker = np.array([k == "marker" for k in kinds], dtype=bool)
    if not observed[:, is_marker].any():
        raise InputError(f"{path}: no marker holds a valid sample (every one is missing, or stored as 0,0,0)")
    if units is None:
        units_name = str((_param(params, "POINT", "UNITS") or ["mm"])[0]).replace("\x00", "").strip().lower()
        units_name = {"": "mm", "mete": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m",
                      "millimeters": "mm", "millimetres": "mm", "centimeters": "cm"}.get(units_name, units_name)
        if units_name not in UNIT_TO_M:
            raise InputError(f"{path}: POINT:UNITS is {units_name!r}; expected mm, cm or m (or pass {{units}})")
        to_m = UNIT_TO_M[units_name]
    else:
        to_m, units_name = units
    xyz = xyz * to_m
    y_screen = _param(params, "POINT", "Y_SCREEN")
    found = body_from_markers(path, labels, kinds, xyz, observed, descriptions, skeleton_map,
                              y_screen=str(y_screen[0]).strip().upper() if y_screen else None,
                              first_frame=f.first_frame)
    smap, names, poses, mask, rot, up = found.smap, found.names, found.poses, found.mask, found.rot, found.up
    notes, warnings = list(f.notes) + picked + found.notes, found.warnings
    rate = f.rate
    if not rate:
        raise InputError(f"{path}: the C3D declares no frame rate (POINT:RATE)")
    # what a writer needs to put edited joints back into this file (docs/ARCHITECTURE.md, the data path)
    markers = np.where(observed[..., None], found.xyz, np.nan) @ rot.T
    back = C3DWriteBack(path=str(path), digest=f.digest, skeleton_map=smap, subject=who,
                        to_canonical=rot, units_to_m=to_m, marker_index=np.array(keep), markers=markers,
                        observed=observed, names=names, kinds=kinds, joints=poses, joint_mask=mask,
                        exchanged=found.exchanged, held=found.held)
    return Take(positions=poses.astype(np.float32), mask=mask, fps=rate,
                provenance=Provenance(path=str(path), format="c3d", map=smap.name, units=units_name, units_to_m=to_m, up=up,
                                      subject=back.subject, first_frame=f.first_frame, reader=f.reader,
                                      notes=tuple(notes), warnings=tuple(warnings)),
                writeback=back)


@dataclass
class MarkerBody:
    """The 17 joints a marker file's points make (body_from_markers): the map, the names it read, the
    joints in the Z-up frame, their mask, the rotation from the file's axes and its label, and what to say."""

    smap: SkeletonMap
    names: list[str]
    poses: np.ndarray
    mask: np.ndarray
    rot: np.ndarray
    up: str
    notes: list[str]
    warnings: list[str]
    #: the markers (F, N, 3) as read, metres and the file's axes, label swaps exchanged back (swapped_back)
    xyz: np.ndarray | None = None
    #: (F, N) samples whose labels were exchanged back
    exchanged: np.ndarray | None = None
    #: (F, N) samples whose labels nothing tells are right (signal.swaps: an exchange with no way back, a
    #: left/right pair on the wrong sides with no jump to explain it), or off the body (signal.offbody): they
    #: make no joint, and every output leaves them as they are
    held: np.ndarray | None = None


def _listed(said: list[str], most: int = 6) -> str:
    """Up to `most` items of a warning's list, '; '-joined, and how many more."""
    return "; ".join(said[:most]) + (f" (and {len(said) - most} more)" if len(said) > most else "")


def _frames(start: int, stop: int, first_frame: int) -> str:
    """Frames [start, stop) as the file numbers them (from first_frame)."""
    return f"{start + first_frame}-{stop - 1 + first_frame}"


def swapped_back(path: Path, labels: list[str], kinds: list[str], xyz: np.ndarray, observed: np.ndarray,
                 first_frame: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Markers (F, N, 3, metres) with the labels a capture program exchanged for a while put back
    (signal.swaps: both markers jump to where the other was, and back, or, for a left and right marker of
    one name, stand on each other's side of the body), which samples were, which samples are held (an
    exchange or a wrong side nothing tells: neither read nor written), and
    warnings naming each swap's markers and frames (numbered from first_frame, as the file numbers them)
    and each exchange held. Only the body's markers are looked at."""
    from gfpose_cli.signal.swaps import label_swaps, unswapped

    markers = np.array([k == "marker" for k in kinds], dtype=bool)
    found = label_swaps(xyz, observed, markers, pairs=side_pairs(labels))
    pair = lambda a, b: f"{labels[a]} and {labels[b]}"  # noqa: E731
    frames = lambda start, stop: _frames(start, stop, first_frame)  # noqa: E731

    warnings = []
    if found.swaps:
        said = _listed([f"{pair(s.a, s.b)} in frames {frames(s.start, s.stop)}"
                       + (" (each on the other's side of the body)" if s.by_side else "") for s in found.swaps])
        warnings.append(f"{path}: marker labels swapped and swapped back: {said} (each pair jumped to where "
                        "the other was); read with their labels put right, as every output written from it holds them")
    if found.untold:
        said = _listed([f"{pair(e.a, e.b)} at frame {e.frame + first_frame} (held in frames {frames(e.start, e.stop)})"
                       for e in found.untold])
        warnings.append(f"{path}: markers exchanged places where nothing tells which labelling is right (no way back "
                        f"in the take and no side to tell, or a marker in two exchanges at once): {said}; those "
                        "samples make no joint and every output leaves them as they are (relabel them in the capture "
                        "program)")
    if found.held_spans:
        said = _listed([f"{pair(a, b)} in frames {frames(start, stop)}" for a, b, start, stop in found.held_spans])
        warnings.append(f"{path}: left and right markers on each other's side of the body, or alone in a gap inside a "
                        f"swap, where no jump tells which labels are wrong: {said}; those samples make no joint "
                        "and every output leaves them as they are (check the labels in the capture program)")
    held = found.held(observed.shape)
    if not found.swaps:
        return xyz, np.zeros(observed.shape, dtype=bool), held, warnings
    fixed, exchanged = unswapped(xyz, found.swaps)
    return fixed, exchanged, held, warnings


def _check_range(path: Path, smap: SkeletonMap, names: list[str], xyz: np.ndarray, observed: np.ndarray,
                 first_frame: int) -> None:
    """Refuse a file where a valid sample of a marker the map reads is past MAX_COORDINATE (a damaged
    number: it would be held as a marker off the body, or make a joint far off the earth), as every
    reader's joints are (io.check_take): one sentence naming the frame and the marker."""
    cols = sorted({i for c in smap.source_columns(names) for i in c})
    if not cols:
        return
    with np.errstate(invalid="ignore"):
        bad = observed[:, cols] & ~(np.abs(xyz[:, cols]) <= MAX_COORDINATE).all(-1)
    if bad.any():
        f, k = (int(v) for v in np.argwhere(bad)[0])
        value = xyz[f, cols[k]][np.argmax(~(np.abs(xyz[f, cols[k]]) <= MAX_COORDINATE))]
        raise InputError(f"{path}: frame {f + first_frame}, marker {names[cols[k]]}: coordinate {value:g} m is out of "
                         "range; the file looks damaged (mark the sample invalid, or gap-fill it, in the capture program)")


def left_the_body(path: Path, smap: SkeletonMap, names: list[str], poses: np.ndarray, mask: np.ndarray,
                  xyz: np.ndarray, observed: np.ndarray, first_frame: int = 1) -> tuple[np.ndarray, list[str]]:
    """The samples of markers off the body for a stretch (signal.offbody: a label on a ghost or on another
    marker; the marker jumps, and the bones of the joints the map builds from it stray from their lengths
    between its jumps, or it jumps away and back for a short stretch), as (F, N) to hold, and warnings
    naming each stretch's marker, frames (as the file numbers them) and what told it."""
    from gfpose_cli.core.skeleton import BONES
    from gfpose_cli.signal.offbody import held_samples, marker_steps, off_body, whole_body_jumps

    sources = smap.source_columns(names)
    # points that are the joints themselves (joint centres a tool wrote, gfpose's own --add-joints) are
    # read as they are: a file written with joints reads back the joints written
    steps = marker_steps(poses, mask, xyz, observed, sources) if any(len(cols) > 1 for cols in sources) else None
    breaks = whole_body_jumps(steps, observed) if steps is not None else []
    shifted = []
    if breaks:
        t, count, there = breaks[0]
        why = (f"at frame {t + first_frame} {count} of the {there} markers the map reads jump at once and the body's "
               f"bones break (in {len(breaks)} frame{'s' if len(breaks) > 1 else ''} in all): the data shifts there "
               "(bytes lost, or the markers' channels misaligned), which no labelling or motion explains")
        if not READ_ANYWAY.get():
            raise ImplausibleInput(f"{path}: {why}; export the take again (or pass {{force_read}} to read it anyway)")
        shifted = [f"{path}: read anyway ({{force_read}}): {why}"]
    found = off_body(poses, mask, xyz, observed, sources, steps=steps) if steps is not None else []
    if not found:
        return np.zeros(observed.shape, dtype=bool), shifted

    def listed(group) -> str:  # noqa: ANN001
        said = []
        for o in group:
            why = "away and back"
            if o.bone is not None:
                p, c = BONES[o.bone]
                why = f"as the {JOINTS[p]}-{JOINTS[c]} bone, {o.usual * 1000:.0f} mm, changed length"
            if o.between_gaps:  # no jump: it came back from a gap off the body and left in another
                said.append(f"{names[o.marker]} in frames {_frames(o.start, o.stop, first_frame)} (between two of its "
                            f"gaps, the {JOINTS[p]}-{JOINTS[c]} bone, {o.usual * 1000:.0f} mm, changed length)")
                continue
            said.append(f"{names[o.marker]} in frames {_frames(o.start, o.stop, first_frame)} (it jumped "
                        f"{o.jump * 1000:.0f} mm {why})")
        return _listed(said)

    warnings = list(shifted)
    told, untold = [o for o in found if o.told], [o for o in found if not o.told]
    if told:
        warnings.append(f"{path}: markers off the body for a while (a label on a ghost or another marker): {listed(told)}; "
                        "those samples make no joint and every output leaves them as they are (relabel or delete them "
                        "in the capture program)")
    if untold:
        warnings.append(f"{path}: markers that jump off (or onto) the body and stay, where nothing tells which side of the "
                        f"jump is the marker: {listed(untold)}; those samples make no joint and every output leaves them "
                        "as they are (check the marker in the capture program)")
    return held_samples(found, observed.shape), warnings


def body_from_markers(path: Path, labels: list[str], kinds: list[str], xyz: np.ndarray, observed: np.ndarray,
                      descriptions: list[str], skeleton_map: str | SkeletonMap | None, *,
                      y_screen: str | None = None, first_frame: int = 1) -> MarkerBody:
    """Markers (labels, point kinds, positions (F, N, 3) in metres and the file's axes, valid samples)
    to the 17 joints: a preset found by the labels (then the descriptions), else a map learned from the
    markers' motion; repeated labels resolved or refused; turned Z up (y_screen, else from the body).
    Shared by the C3D and TRC readers. Markers whose labels were swapped for a while are read swapped
    back (swapped_back), said; markers off the body for a while are held (left_the_body), said."""
    xyz, exchanged, held, swap_warnings = swapped_back(path, labels, kinds, xyz, observed, first_frame)
    observed = observed & ~held  # labels nothing tells: those samples make no joint
    dupes = [n for n, k in Counter(normalise_name(label) for label, kind in zip(labels, kinds)
                                  if kind == "marker").items() if k > 1]
    # model outputs and virtual points are never read as markers (an ankle angle is not an ankle)
    names = [label if kind == "marker" else f"{label}\x00{kind}" for label, kind in zip(labels, kinds)]
    notes: list[str] = []
    learned_warning = None
    if isinstance(skeleton_map, SkeletonMap):
        smap = skeleton_map
    elif skeleton_map == "learn":
        smap, body = learned_map(names, xyz, observed, str(path))
        learned_warning = _learned_warning(path, smap, body)
    elif skeleton_map and skeleton_map != "auto":
        smap = load_map(skeleton_map)
    else:  # the names (labels, then descriptions), then the markers' own motion
        try:
            smap = auto_map(names, str(path), kind="markers")
        except InputError as by_label:
            described = described_names(names, descriptions)
            try:
                smap = auto_map(described, str(path), kind="markers") if described != names else None
            except InputError:
                smap = None
            if smap is not None:
                names = described
                notes.append("markers identified by their descriptions (POINT:DESCRIPTIONS); the labels match no marker set")
            else:
                try:
                    smap, body = learned_map(names, xyz, observed, str(path))
                except InputError as by_motion:
                    why = by_motion.template.removeprefix(f"{path}: ")
                    raise InputError(f"{by_label.template.rstrip('.')}. A map learned from the markers' motion failed too: {why}") from None
                learned_warning = _learned_warning(path, smap, body)
    smap = smap.for_names(names)  # of each joint's alternatives, the one the file's names hold
    _check_range(path, smap, names, xyz, observed, first_frame)
    used = {normalise_name(s) for s in smap.resolved_sources(names)}
    names, same = _one_of_each_copy(names, sorted(set(dupes) & used), xyz, observed)
    clash = sorted((set(dupes) & used) - set(same))
    if clash:
        raise InputError(f"{path}: marker labels {', '.join(clash)} appear more than once; the map cannot tell them apart")
    poses, mask = smap.apply(names, xyz, observed, where=str(path))
    off, off_warnings = left_the_body(path, smap, names, poses, mask, xyz, observed, first_frame)
    if off.any():  # the markers that jumped off the body make no joint: the joints are built again without them
        held = held | off
        observed = observed & ~off
        poses, mask = smap.apply(names, xyz, observed, where=str(path))
    for cols in smap.rigid_clusters(names):
        seen = observed[:, cols]
        placed = cluster_gaps(seen)
        if placed.any():
            gone = sorted({names[c] for c, s in zip(cols, (~seen[placed]).any(0)) if s})
            notes.append(f"{', '.join(gone)} placed in {int(placed.sum())} frames by the rest of {'its' if len(gone) == 1 else 'their'} "
                         f"rigid cluster ({', '.join(names[c] for c in cols)}), as a rigid-body fill does")
    note = missing_note(smap, names) if smap.partial else None
    warnings = swap_warnings + off_warnings + ([f"{path}: {note}"] if note else [])
    if learned_warning:
        warnings.insert(0, learned_warning)
    estimated = [j for j in smap.estimated if mask[:, JOINTS.index(j)].any()]
    if estimated:
        warnings.append(f"{path}: {', '.join(estimated)} estimated by map '{smap.name}' (the file has no point there; "
                        "its description says how)")
    unseen = [j for j, joint in enumerate(JOINTS) if not mask[:, j].any() and joint not in smap.absent(names)]
    if unseen and mask.any():
        sources = smap.source_columns(names)
        gone = sorted({i for j in unseen for i in sources[j] if not observed[:, i].any()}, key=lambda i: names[i])
        empty = ", ".join(names[i] for i in gone)
        why = ("their markers are never seen together, or hold no valid sample" if not gone
               else f"markers {empty} are held (see above)" if held[:, gone].any()
               else f"markers {empty} hold no valid sample")
        warnings.append(f"{path}: {', '.join(JOINTS[j] for j in unseen)} missing in every frame: {why}")
    if not mask.any():
        raise InputError(f"{path}: no frame has the markers the map '{smap.name}' needs")
    rot, up = _z_up_rotation(poses, mask, y_screen)
    return MarkerBody(smap=smap, names=names, poses=_canonical(poses, rot), mask=mask, rot=rot, up=up,
                      notes=notes, warnings=warnings, xyz=xyz, exchanged=exchanged, held=held)


@dataclass
class C3DWriteBack:
    """What writing edited joints back into the source C3D needs (Take.writeback; only io reads it)."""

    path: str
    digest: str  # sha256 of the file as read: a file changed since is refused
    skeleton_map: SkeletonMap
    subject: str | None
    to_canonical: np.ndarray  # file axes -> Z up
    units_to_m: float
    marker_index: np.ndarray  # (K,) the file's point columns of this take's markers
    markers: np.ndarray  # (F, K, 3) canonical metres, NaN where missing
    observed: np.ndarray  # (F, K)
    names: list[str]  # labels as the map sees them (non-markers mangled so no map reads them)
    kinds: list[str]  # marker, model output, virtual, unlabelled
    joints: np.ndarray  # (F, 17, 3) the joints as read (canonical)
    joint_mask: np.ndarray
    #: (F, K) samples read with their labels swapped back (markers holds them so): written as moved
    exchanged: np.ndarray | None = None
    #: (F, K) samples held (MarkerBody.held): they make no joint and are written as they were
    held: np.ndarray | None = None


def _canonical(poses: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """File-axes joints -> the Z-up frame at the Take's float32 precision, so unedited = unmoved."""
    return (poses @ rot.T).astype(np.float32).astype(np.float64)


def _z_up_rotation(poses: np.ndarray, mask: np.ndarray, y_screen: str | None) -> tuple[np.ndarray, str]:
    """The rotation taking the file's axes to Z up (from Y_SCREEN, else from the body), and its label."""
    from gfpose_cli.core.frames import up_rotation

    if y_screen in ("+X", "-X", "+Y", "-Y", "+Z", "-Z"):
        up = np.zeros(3)
        up["XYZ".index(y_screen[1])] = 1.0 if y_screen[0] == "+" else -1.0
    else:
        # ankles to head, else to the thorax or the pelvis (a capture without head markers), else up the trunk
        up = None
        for top, bottom in ((10, (3, 6)), (8, (3, 6)), (0, (3, 6)), (8, (0,))):
            ok = mask[:, top] & mask[:, list(bottom)].all(1)
            if ok.any():
                up = np.median(poses[ok, top] - poses[ok][:, list(bottom)].mean(1), axis=0)
                break
        if up is None:
            return np.eye(3), "unknown"
    axis = int(np.argmax(np.abs(up)))
    return up_rotation(up), ("+" if up[axis] > 0 else "-") + "XYZ"[axis]


# ---------------------------------------------------------------- writing


def write(take: Take, path: Path, force: bool = True, add_joints: bool = False) -> dict:
    """Write a take as C3D; returns a summary ({"moved": n, "filled": n, "markers": n, ...}).

    A take read from a C3D goes back into a copy of that file's bytes: only the marker samples
    that moved or were filled are rewritten, in the file's own encoding (an integer file stays
    integer with its scale, DEC stays DEC), and a GFPOSE parameter group records what changed.
    Markers ride the edited skeleton (gfpose_cli.markers); model outputs, virtual points and
    unlabelled trajectories never move; gaps are filled only by `complete` (residual 0).
    Any other take becomes a fresh C3D with the 17 joints as points (mm, Z up), after the markers of its
    source where it was read from marker data of another format (_write_fresh).
    """
    from gfpose_cli.util.atomic import atomic_path

    from gfpose_cli.io import world_poses

    poses = world_poses(take, str(path))
    # (a TRC's write-back is a C3DWriteBack too; a take read from a TRC becomes a fresh C3D)
    back = take.writeback if type(take.writeback) is C3DWriteBack and Path(take.writeback.path).exists() else None
    if back is not None and len(poses) != len(back.joints):
        raise InputError(f"{path}: the take has {len(poses)} frames but its source {back.path} has "
                         f"{len(back.joints)}; write NPZ instead")
    meta = _provenance(take)
    if back is None:
        return _write_fresh([take], [poses], Path(path), force, meta)
    f = load(Path(back.path))
    if f.digest != back.digest:
        raise InputError(f"{back.path} changed since it was read; run the command again")
    edits = marker_edits(take, poses)
    if add_joints:
        data = _with_joints(f, take, poses, edits, back, meta)
    else:
        if f.raw is None:
            raise InputError(f"{back.path}: gfpose cannot write into this C3D's layout; write NPZ or BVH instead")
        data = _patched(f, [(edits, back)], meta)
    summary = new_summary(joints_added=len(JOINTS) if add_joints else 0)
    add_up_edits(summary, edits)
    with atomic_path(Path(path), force) as tmp:
        tmp.write_bytes(data)
    return summary


def write_performers(takes: list[Take], path: Path, force: bool = True) -> dict:
    """Several performers of one C3D (each read with its subject, then edited) written back into one
    copy of that file: each performer's markers ride its own edited skeleton, every other point is
    kept byte for byte. GFPOSE:SUBJECTS lists the performers, GFPOSE:MAP their maps in that order."""
    from gfpose_cli.util.atomic import atomic_path

    from gfpose_cli.io import world_poses

    backs = [t.writeback for t in takes]
    if not all(isinstance(b, C3DWriteBack) for b in backs) or len({(b.path, b.digest) for b in backs}) != 1:
        raise InputError(f"{path}: the performers written into one C3D must all come from the same C3D file")
    if type(backs[0]) is not C3DWriteBack:  # the performers of a Motive, Nexus or Qualisys export: a new C3D
        if len({len(t.positions) for t in takes}) != 1 or len({t.fps for t in takes}) != 1:
            raise InputError(f"{path}: the performers differ in frames or rate; write one at a time with {{subject}}")
        return _write_fresh(takes, [world_poses(t, str(path)) for t in takes], Path(path), force, _provenance(takes[0]))
    back = backs[0]
    if not Path(back.path).exists():
        raise InputError(f"{path}: its source {back.path} is gone; write one performer at a time as NPZ")
    f = load(Path(back.path))
    if f.digest != back.digest:
        raise InputError(f"{back.path} changed since it was read; run the command again")
    if f.raw is None:
        raise InputError(f"{back.path}: gfpose cannot write into this C3D's layout; write NPZ or BVH instead")
    parts = []
    for take in takes:
        poses = world_poses(take, str(path))
        if len(poses) != len(take.writeback.joints):
            raise InputError(f"{path}: the take of {take.writeback.subject} has {len(poses)} frames but its source has "
                             f"{len(take.writeback.joints)}; write NPZ instead")
        parts.append((marker_edits(take, poses), take.writeback))
    metas = [_provenance(t) for t in takes]
    meta = {"MAP": [m["MAP"][0] for m in metas], "TASK": metas[0]["TASK"], "VERSION": metas[0]["VERSION"],
            "SUBJECTS": [str(b.subject or "") for b in backs]}
    data = _patched(f, parts, meta)
    summary = new_summary(performers=len(parts))
    for edits, _ in parts:
        add_up_edits(summary, edits)
    with atomic_path(Path(path), force) as tmp:
        tmp.write_bytes(data)
    return summary


@dataclass
class MarkerEdits:
    """What a task did to a C3D's markers: new positions and which samples changed."""

    new: np.ndarray  # (F, K, 3) canonical metres
    moved: np.ndarray  # (F, K) observed samples that moved
    filled: np.ndarray  # (F, K) missing samples now filled
    body: np.ndarray  # (K,) points that are markers
    riding: np.ndarray  # (K,) markers that ride a body segment
    kept: dict  # kind -> count of points never modified (model outputs, virtual, unlabelled, riding nothing)
    empty: tuple[str, ...] = ()  # body markers with no valid sample in the take: nothing to place them from
    swapped: int = 0  # samples read with their labels swapped back (swapped_back), written so
    held: int = 0  # samples held (labels nothing tells: swapped_back), written as they were


#: samples in an observed run shorter than this are not smoothed (a scattered ghost marker)
MIN_RUN = 5


def marker_edits(take: Take, poses: np.ndarray) -> MarkerEdits:
    """How the markers of the take's source C3D follow its edited joints (poses, canonical metres).

    Only the body's markers and the points the map reads are worked on (a Nexus file's bone points,
    model outputs and unlabelled trajectories, often most of its points, are left exactly as they were
    and cost no time or memory)."""
    from gfpose_cli.io import markers as rig_mod

    back: C3DWriteBack = take.writeback
    kinds = back.kinds
    body_all = np.array([k == "marker" for k in kinds], dtype=bool)
    sources = set(back.skeleton_map.resolved_sources(back.names))
    cols = np.flatnonzero(body_all | np.array([n in sources for n in back.names], dtype=bool))
    markers, observed, body = back.markers[:, cols], back.observed[:, cols], body_all[cols]
    # samples held (labels nothing tells are right: swapped_back) neither move the rig nor move
    held = back.held[:, cols] if back.held is not None else np.zeros_like(observed)
    seen = observed & ~held
    joints, joint_mask = back.joints, back.joint_mask
    # a take cleaned along time gets its markers cleaned along time (not `denoise --per-frame`)
    smooth = isinstance(take.report, DenoiseReport) and take.report.temporal
    base = markers
    if smooth:
        smoothed, joints, joint_mask = rig_mod.smoothed_markers(markers, seen, _joints_of(back, cols))
        # isolated samples (a ghost trajectory seen now and then) are not smoothed: no neighbours
        base = np.where(_long_runs(seen)[..., None], smoothed, markers)
        del smoothed
    # points the map reads that are no markers (a set's computed joint centres) ride nothing
    rig = rig_mod.fit_rig(joints, joint_mask, base, seen, candidates=body)
    new, moved, filled = rig_mod.ride(rig, joints, joint_mask, np.nan_to_num(poses), base, seen)
    riding = rig.segment >= 0
    if not isinstance(take.report, CompleteReport):
        filled[:] = False  # only `complete` invents marker samples
    filled &= ~held
    # a body marker on no segment (a toe marker, a loose one) is only smoothed along time by denoise
    new = np.where(riding[None, :, None], new, np.where(body[None, :, None], base, markers))
    new = np.where((filled | seen)[..., None], new, markers)
    moved = seen & body[None] & (np.abs(np.nan_to_num(new - markers)).max(-1) > 1e-9)
    put_right = observed & back.exchanged[:, cols] if back.exchanged is not None else np.zeros_like(observed)
    moved |= put_right  # samples read with their labels swapped back differ from the file's
    del base
    # back to every point of the take: the others left exactly as they were
    F, K = back.observed.shape
    new_all = back.markers.copy()
    new_all[:, cols] = new
    moved_all, filled_all, riding_all = np.zeros((F, K), bool), np.zeros((F, K), bool), np.zeros(K, bool)
    moved_all[:, cols], filled_all[:, cols], riding_all[cols] = moved, filled, riding
    kept = Counter(kinds[i] for i in range(len(kinds)) if not body_all[i])
    empty = tuple(back.names[i] for i in np.flatnonzero(body_all & ~back.observed.any(0)))
    return MarkerEdits(new=new_all, moved=moved_all, filled=filled_all, body=body_all, riding=riding_all,
                       kept=dict(kept), empty=empty, swapped=int(put_right.sum()), held=int((held & observed).sum()))


def _long_runs(observed: np.ndarray) -> np.ndarray:
    """(F, K): samples in runs of at least MIN_RUN consecutive observed frames."""
    F, K = observed.shape
    out = np.zeros_like(observed)
    for k in range(K):
        for a, b in runs(observed[:, k]):
            if b - a >= MIN_RUN:
                out[a:b, k] = True
    return out


def _patched(f: C3DData, parts: list[tuple[MarkerEdits, C3DWriteBack]], meta: dict) -> bytes:
    """The source file's bytes with the edited samples of each (edits, back) part (one per performer)
    rewritten and the GFPOSE group set."""
    all_rows, all_cols, all_xyz, all_filled, filled_flags, moved_flags = [], [], [], [], [], []
    for edits, back in parts:
        rot, scale = back.to_canonical, back.units_to_m
        cols_all = np.asarray(back.marker_index)
        # a move below the file's storage resolution (float32 rounding, one integer step) writes the
        # same bytes: it is no move, and is not counted as one
        rows, ks = np.nonzero(edits.moved)
        if rows.size:
            stored = f.raw.points_at(rows, cols_all[ks])
            new = (edits.new[rows, ks] @ rot) / scale
            if f.raw.is_float:
                same = (new.astype(np.float32) == stored.astype(np.float32)).all(-1)
            else:
                same = (np.rint(new / abs(f.raw.scale)) == np.rint(stored / abs(f.raw.scale))).all(-1)
            edits.moved[rows[same], ks[same]] = False
        rows, ks = np.nonzero(edits.moved | edits.filled)
        all_rows.append(rows)
        all_cols.append(cols_all[ks])
        all_xyz.append((edits.new[rows, ks] @ rot) / scale)  # canonical metres -> file axes and units
        all_filled.append(edits.filled[rows, ks])
        labels = [f.labels[c] for c in back.marker_index]
        filled_flags += list(zip(labels, edits.filled.sum(0)))
        moved_flags += list(zip(labels, edits.moved.sum(0)))
    params = {**_flags("FILLED", [k for k, _ in filled_flags], np.array([n for _, n in filled_flags])),
              **_flags("MOVED", [k for k, _ in moved_flags], np.array([n for _, n in moved_flags])), **meta}
    return f.raw.patched(np.concatenate(all_rows), np.concatenate(all_cols), np.concatenate(all_xyz).reshape(-1, 3),
                         np.concatenate(all_filled), "GFPOSE", params)


def _flags(name: str, labels: list[str], counts: np.ndarray) -> dict:
    """GFPOSE:<name>_LABELS / _COUNTS: which markers had samples filled or moved, and how many."""
    hit = [(label, int(n)) for label, n in zip(labels, counts) if n > 0][:255]  # one C3D dimension
    return {f"{name}_LABELS": [label for label, _ in hit] or [""],
            f"{name}_COUNTS": [float(n) for _, n in hit] or [0.0]}


def _provenance(take: Take) -> dict:
    """GFPOSE:MAP, TASK, VERSION: which map, which task and which code made the file."""
    from gfpose_cli.util.provenance import code_version

    task = take.report.task if take.report is not None else "convert"
    return {"MAP": [str(take.provenance.map or "")], "TASK": [task], "VERSION": [code_version()]}


def _with_joints(f: C3DData, take: Take, poses: np.ndarray, edits: MarkerEdits, back: C3DWriteBack,
                 meta: dict) -> bytes:
    """--add-joints: the file rewritten by ezc3d with the 17 joint centres appended as points.

    ezc3d writes Intel float, so this is offered only where that changes nothing: an Intel float
    file whose points ezc3d reads exactly as its bytes say.
    """
    import tempfile

    raw = f.raw
    c = _open_ezc3d(f.path)
    theirs = np.asarray(c["data"]["points"], dtype=np.float64)[:3].transpose(2, 1, 0)
    same = raw is not None and raw.proc == "Intel" and raw.is_float and theirs.shape == f.xyz.shape and np.array_equal(
        np.where(f.observed[..., None], theirs, 0.0), np.where(f.observed[..., None], f.xyz, 0.0))
    if theirs.shape[0] < f.xyz.shape[0]:  # ezc3d stops at 65,535 frames: the rewrite would cut the take short
        raise InputError(f"{f.path}: {{add_joints}} rewrites the file through ezc3d, which reads {theirs.shape[0]} of its "
                         f"{f.xyz.shape[0]} frames; write the joints to a file of their own (`gfpose convert FILE "
                         "--joints-only -o joints.c3d`), or the markers and joints to a TRC (`-o take.trc`)")
    if not same:
        raise InputError(f"{f.path}: {{add_joints}} rewrites the whole file as Intel float C3D, which would change how "
                         "this file stores its points; write the joints with `gfpose convert ... -o joints.npz` instead")
    rot, scale = back.to_canonical, back.units_to_m
    points = np.array(c["data"]["points"], dtype=np.float64)
    residuals = np.array(c["data"]["meta_points"]["residuals"], dtype=np.float64)
    changed = edits.moved | edits.filled
    file_xyz = (edits.new @ rot) / scale
    for k, col in enumerate(back.marker_index):
        rows = np.flatnonzero(changed[:, k])
        if rows.size:
            points[:3, col, rows] = file_xyz[rows, k].T
        rows = np.flatnonzero(edits.filled[:, k])
        if rows.size:
            points[3, col, rows] = 1.0
            residuals[0, col, rows] = 0.0
    c["data"]["points"] = points
    c["data"]["meta_points"]["residuals"] = residuals
    labels = f.labels
    for name, value in {**_flags("FILLED", [labels[i] for i in back.marker_index], edits.filled.sum(0)),
                        **_flags("MOVED", [labels[i] for i in back.marker_index], edits.moved.sum(0))}.items():
        c.add_parameter("GFPOSE", name, value)
    prefix = f"{back.subject}:" if back.subject else ""
    _append_points(c, [f"{prefix}gfpose_{j}" for j in JOINTS], (poses @ rot) / scale, take.mask)
    for name, value in meta.items():
        c.add_parameter("GFPOSE", name, value)
    scale_param = float(np.asarray(c["parameters"]["POINT"]["SCALE"]["value"]).ravel()[0] or -1.0)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir) / "joints.c3d"
        c.write(str(tmp))
        _check_written(tmp, np.asarray(c["data"]["points"]).shape)
        _sync_header_scale(tmp, -abs(scale_param))
        return tmp.read_bytes()


def _joints_of(back: C3DWriteBack, cols: np.ndarray):
    """markers (canonical frame) of the take's columns cols (those the map reads among them) -> the joints
    and mask the file's map makes of them, as read() does."""
    rot = back.to_canonical
    names = [back.names[c] for c in cols]

    def joints_of(markers: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        poses, mask = back.skeleton_map.apply(names, np.nan_to_num(markers) @ rot, observed, where=back.path)
        return _canonical(poses, rot), mask

    return joints_of


def _check_written(path: Path, shape: tuple[int, ...]) -> None:
    """Read back what ezc3d wrote: its C++ writer does not report a full disk, it stops short."""
    import errno

    try:
        written = np.asarray(open_c3d(path)["data"]["points"]).shape
    except InputError:
        written = None
    if written is not None and written[:2] == tuple(shape)[:2] and written[2] == c3d_raw.MAX_HEADER_FRAMES < shape[2]:
        # a long take: counted in TRIAL, which our reader (and the c3d package) follow and ezc3d does not
        written = (*written[:2], c3d_raw.parse(Path(path).read_bytes(), str(path)).n_frames)
    if written != tuple(shape):
        raise OSError(errno.EIO, "the file came out incomplete; is the disk full?")


def _sync_header_scale(path: Path, scale: float) -> None:
    """Make the header's scale factor equal POINT:SCALE in a file ezc3d wrote.

    ezc3d stores floats and writes -1 in the header but keeps the parameter (e.g. -0.05), which
    it uses for residuals; other readers (py-c3d) refuse the mismatch. ezc3d writes Intel byte
    order; the header's scale factor is the float32 at byte 12.
    """
    import struct

    with open(path, "r+b") as handle:
        header = handle.read(16)
        start = (header[0] - 1) * 512
        handle.seek(start + 3)
        if handle.read(1) != bytes([84]):  # 84 = Intel; anything else we do not patch
            return
        handle.seek(12)
        handle.write(struct.pack("<f", scale))


def _write_fresh(takes: list[Take], poses: list[np.ndarray], path: Path, force: bool, meta: dict) -> dict:
    """A new C3D (mm, Z up): each take's 17 joints as points, after its markers where it was read from marker
    data of another format (a TRC, a Motive, Nexus or Qualisys export): those ride the edited skeleton as a
    C3D's own markers do (only `complete` fills their gaps); its unlabelled and virtual points come as they
    were; model outputs are left out (an angle stored as a point would be turned with the axes). Several
    takes are the performers of one export: their joints are named `Ann:gfpose_Pelvis`, as --add-joints
    names them."""
    from gfpose_cli.util.atomic import atomic_path

    c = _empty_c3d(takes[0].fps, len(poses[0]))
    summary = new_summary(joints_added=len(JOINTS) * len(takes))
    joint_points = []
    flagged: list[str] = []  # labels of the points written from the sources, and their filled/moved counts
    filled: list[np.ndarray] = []
    moved: list[np.ndarray] = []
    sources = [source_points(take, pose) for take, pose in zip(takes, poses)]
    too_many = sum(len(got.labels) for got in sources if got is not None) + len(JOINTS) * len(takes)
    if too_many > MAX_POINTS:  # one POINT:LABELS: the joints only, and said
        summary["points_left_out"] = (too_many - len(JOINTS) * len(takes),
                                      f"with the joints, more than a C3D's {MAX_POINTS}; write TRC to keep them")
        sources = [None] * len(takes)
    for take, pose, got in zip(takes, poses, sources):
        count_source(summary, take, pose, got)
        if got is not None:
            _append_points(c, got.labels, got.xyz / 0.001, got.valid)
            flagged += got.labels
            filled.append(got.edits.filled[:, got.cols].sum(0))
            moved.append(got.edits.moved[:, got.cols].sum(0))
        subject = take.writeback.subject if isinstance(take.writeback, C3DWriteBack) else None
        joint_points.append((subject, take, pose))
    taken = {str(x) for x in c["parameters"]["POINT"]["LABELS"]["value"]}
    for subject, take, pose in joint_points:
        names = list(JOINTS)
        if len(takes) > 1 or taken & set(names):
            names = [f"{subject + ':' if subject else ''}gfpose_{j}" for j in JOINTS]  # as --add-joints names them
        _append_points(c, names, pose / 0.001, take.mask)
    if flagged:  # as a write-back marks them: GFPOSE:FILLED_* and MOVED_* name the points and count the samples
        for name, value in {**_flags("FILLED", flagged, np.concatenate(filled)),
                            **_flags("MOVED", flagged, np.concatenate(moved))}.items():
            c.add_parameter("GFPOSE", name, value)
    if len(takes) > 1:
        summary["performers"] = len(takes)
        metas = [_provenance(t) for t in takes]
        meta = {"MAP": [m["MAP"][0] for m in metas], "TASK": metas[0]["TASK"], "VERSION": metas[0]["VERSION"],
                "SUBJECTS": [str(subject or "") for subject, _, _ in joint_points]}
    for name, value in meta.items():
        c.add_parameter("GFPOSE", name, value)
    with atomic_path(path, force) as tmp:
        c.write(str(tmp))
        if len(poses[0]) > c3d_raw.MAX_HEADER_FRAMES:
            _count_long_take(tmp, len(poses[0]))
        _check_written(tmp, np.asarray(c["data"]["points"]).shape)
        _sync_header_scale(tmp, -1.0)
    return summary


def _count_long_take(path: Path, n_frames: int) -> None:
    """A new C3D of more than 65,535 frames (ezc3d writes them all, its header and POINT:FRAMES saying
    65,535): TRIAL:ACTUAL_START_FIELD and ACTUAL_END_FIELD count them as Vicon and Motive do (two 16-bit
    words each, low first), so readers take every frame rather than the first 65,535."""
    raw = c3d_raw.parse(Path(path).read_bytes(), str(path))
    patched = raw._with_group(raw.data, "TRIAL", {"ACTUAL_START_FIELD": np.array([1, 0]),
                                                  "ACTUAL_END_FIELD": np.array([n_frames & 0xFFFF, n_frames >> 16])})
    Path(path).write_bytes(patched)


@dataclass
class SourcePoints:
    """The points of a take's marker source as a new file (C3D, TRC) gets them: labels, positions (F, K, 3,
    canonical metres) and valid samples, markers moved or filled as the edited joints say (marker_edits)."""

    labels: list[str]
    xyz: np.ndarray
    valid: np.ndarray
    cols: list[int]  # of the source's points (the write-back's columns)
    edits: MarkerEdits
    left_out: int  # model outputs not written


def source_points(take: Take, poses: np.ndarray) -> SourcePoints | None:
    """The points a new C3D or TRC written from take carries besides its joints: those of its marker source
    (a C3D, TRC or capture-software export), positions only (a model output, an angle or a moment stored as
    a point, would be turned with the axes); None for a take with no marker source (a BVH, NPZ, a lift)."""
    src = take.writeback if isinstance(take.writeback, C3DWriteBack) else None
    if src is None or len(src.joints) != len(poses):
        return None
    cols = [k for k, kind in enumerate(src.kinds) if kind != "model output"]
    if not cols:
        return None
    edits = marker_edits(take, poses)
    return SourcePoints(labels=[src.names[k].split("\x00", 1)[0] for k in cols], xyz=edits.new[:, cols],
                        valid=(src.observed | edits.filled)[:, cols], cols=cols, edits=edits,
                        left_out=len(src.kinds) - len(cols))


def stale_source(take: Take, poses: np.ndarray) -> tuple[int, str] | None:
    """(points, why) where take has a marker source that no longer matches its frames: a new file then holds
    the joints alone, and says so."""
    src = take.writeback if isinstance(take.writeback, C3DWriteBack) else None
    if src is None or len(src.joints) == len(poses):
        return None
    return len(src.names), f"the take has {len(poses)} frames, its source {len(src.joints)}"


def new_summary(**extra) -> dict:
    """A writer's summary before any take's marker edits are added to it (add_up_edits)."""
    return {"moved": 0, "filled": 0, "markers": 0, "riding": 0, "kept": {}, "empty": [], "joints_added": 0, **extra}


def add_up_edits(summary: dict, edits: MarkerEdits, *, moved: np.ndarray | None = None,
                 leave_out: tuple[str, ...] = ()) -> None:
    """Add one take's marker edits to a writer's summary (moved, filled, markers, riding, and the points kept
    untouched by kind). moved: the samples that did move, where a text writer found some below its file's
    resolution; leave_out: kinds of point the written file does not hold (a new file's model outputs)."""
    summary["moved"] += int((edits.moved if moved is None else moved).sum())
    summary["filled"] += int(edits.filled.sum())
    summary["markers"] += int(edits.body.sum())
    summary["riding"] += int(edits.riding.sum())
    summary["swapped"] = summary.get("swapped", 0) + edits.swapped
    summary["held"] = summary.get("held", 0) + edits.held
    summary.setdefault("empty", []).extend(edits.empty)
    kept = summary.setdefault("kept", {})
    for kind, n in edits.kept.items():
        if kind not in leave_out:
            kept[kind] = kept.get(kind, 0) + n


def count_source(summary: dict, take: Take, poses: np.ndarray, got: SourcePoints | None) -> None:
    """Add to a new file's summary what it does with its take's marker source: the points it carries (got,
    from source_points: moved, filled, kept; model outputs left out), or why it carries none (stale_source)."""
    stale = stale_source(take, poses)
    if stale:
        summary["points_left_out"] = stale
    if got is not None:
        add_up_edits(summary, got.edits, leave_out=("model output",))
        if got.left_out:
            left = summary.setdefault("left_out", {})
            left["model output"] = left.get("model output", 0) + got.left_out


#: points one C3D's POINT:LABELS holds (gfpose writes no LABELS2)
MAX_POINTS = 255


def _append_points(c, labels: list[str], xyz: np.ndarray, mask: np.ndarray) -> None:
    """Add points (F, K, 3 in file units) with their labels, residuals and camera masks."""
    point = c["parameters"]["POINT"]
    old = [str(x) for x in point["LABELS"]["value"]]
    if len(old) + len(labels) > MAX_POINTS:
        raise InputError(f"the C3D would hold more than {MAX_POINTS} points; drop {{add_joints}}")
    clash = sorted(set(old) & set(labels))
    if clash:
        raise InputError(f"the C3D already has points named {', '.join(clash)}; it was written by gfpose already?")
    F = xyz.shape[0]
    data = np.ones((4, len(labels), F))
    data[:3] = np.where(mask[..., None], xyz, np.nan).transpose(2, 1, 0)
    points = c["data"]["points"]
    c["data"]["points"] = np.concatenate([points, data], axis=1) if points.size else data
    meta = c["data"]["meta_points"]
    res = np.where(mask.T, 0.0, -1.0)[None]
    meta["residuals"] = np.concatenate([meta["residuals"], res], axis=1) if meta["residuals"].size else res
    cams = np.zeros((7, len(labels), F), dtype=bool)
    meta["camera_masks"] = (np.concatenate([meta["camera_masks"], cams], axis=1)
                            if meta["camera_masks"].size else cams)
    point["LABELS"]["value"] = old + labels
    if "DESCRIPTIONS" in point and len(point["DESCRIPTIONS"]["value"]) == len(old):
        point["DESCRIPTIONS"]["value"] = list(point["DESCRIPTIONS"]["value"]) + ["gfpose joint centre"] * len(labels)
    point["USED"]["value"] = [len(old) + len(labels)]


def _empty_c3d(fps: float, n_frames: int):
    """A new C3D with no points yet: rate, mm, Z up (X_SCREEN +X, Y_SCREEN +Z)."""
    import ezc3d

    c = ezc3d.c3d()
    point = c["parameters"]["POINT"]
    point["RATE"]["value"] = [float(fps)]
    point["UNITS"]["value"] = ["mm"]
    c["data"]["points"] = np.zeros((4, 0, n_frames))
    c.add_parameter("POINT", "X_SCREEN", ["+X"])
    c.add_parameter("POINT", "Y_SCREEN", ["+Z"])
    return c
