"""C3D at the byte level: the layout of a file's point data, its raw fourth words, and write-back
that changes only the samples that were edited.

Why this exists beside ezc3d and the `c3d` package (which read the parameters and, where they
can, the points): neither library follows the C3D specification's rule for invalid samples in
every storage format (a float file's fourth word of 65535.0 is the int16 -1, "invalid", but both
decode it as a positive residual), both write only Intel float files (an integer or DEC/MIPS file
would come back rewritten, its scale sign flipped and every sample re-rounded), and a file whose
parameter section has a wrong "next entry" offset (OptiTrack Motive's LABELS) stops them both.

What is here (C3D specification, "The C3D File Format User Guide", Motion Lab Systems):
- `parse(data)`: header, processor type (84 Intel, 85 DEC, 86 MIPS/SGI) and every parameter,
  walked by the sizes its type and dimensions give (the offsets are followed only where they agree).
- `RawC3D.points()`: x, y, z in file units and the fourth word as the int16 the spec defines
  (camera mask in bits 8-14, residual in bits 0-7, negative = invalid) for every frame.
- `RawC3D.patched(...)`: a copy of the file's bytes with some samples rewritten in the file's own
  encoding (integer stays integer with its scale, DEC stays DEC) and a parameter group added; every
  other byte of the data section is the input's.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from gfpose_cli.core.errors import InputError

PROCESSORS = {84: "Intel", 85: "DEC", 86: "MIPS"}
BLOCK = 512


class C3DLayoutError(ValueError):
    """The bytes do not follow the C3D layout (a sentence saying where)."""


# ---------------------------------------------------------------- number encodings


def _int16(proc: str) -> str:
    return ">i2" if proc == "MIPS" else "<i2"


def decode_floats(raw: bytes | np.ndarray, proc: str) -> np.ndarray:
    """float32 words of a file of processor proc -> float64 values."""
    buf = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, (bytes, bytearray, memoryview)) else raw
    with np.errstate(invalid="ignore"):  # a signalling NaN's bits (a damaged or unset word) read as NaN
        if proc == "MIPS":
            return buf.view(">f4").astype(np.float64)
        if proc == "DEC":  # VAX F_floating: 16-bit words swapped relative to IEEE, exponent bias 2 higher
            words = buf.view("<u2").reshape(-1, 2)
            bits = (words[:, 0].astype(np.uint32) << 16) | words[:, 1].astype(np.uint32)
            return bits.view("<f4").astype(np.float64) / 4.0
        return buf.view("<f4").astype(np.float64)


def encode_floats(values: np.ndarray, proc: str) -> bytes:
    """float64 values -> float32 words in the encoding of processor proc."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if proc == "MIPS":
        return v.astype(">f4").tobytes()
    if proc == "DEC":
        bits = (v * 4.0).astype("<f4").view("<u4")
        bits = np.where(v == 0, 0, bits).astype(np.uint32)
        words = np.stack([(bits >> 16).astype("<u2"), (bits & 0xFFFF).astype("<u2")], axis=-1)
        return words.astype("<u2").tobytes()
    return v.astype("<f4").tobytes()


# ---------------------------------------------------------------- parameters


@dataclass
class Entry:
    """One group or parameter of the parameter section, decoded."""

    name: str
    group_id: int  # the group's id (positive), for groups and their parameters alike
    is_group: bool
    locked: bool
    type: int = 0  # -1 char, 1 byte, 2 int16, 4 float
    dims: tuple[int, ...] = ()
    data: bytes = b""
    desc: bytes = b""

    def encode(self, proc: str, last: bool) -> bytes:
        name = self.name.encode("ascii", "replace")
        head = struct.pack("bb", -len(name) if self.locked else len(name), -self.group_id if self.is_group else self.group_id)
        if self.is_group:
            body = struct.pack("B", len(self.desc)) + self.desc
        else:
            body = (struct.pack("bB", self.type, len(self.dims)) + bytes(self.dims) + self.data
                    + struct.pack("B", len(self.desc)) + self.desc)
        offset = 0 if last else 2 + len(body)
        return head + name + struct.pack(">h" if proc == "MIPS" else "<h", offset) + body

    def value(self, proc: str):
        """The parameter's value: a list of strings (char), of ints or of floats."""
        if self.type == -1:
            if not self.dims:
                return [self.data.decode("latin-1")]
            width = self.dims[0]
            count = math.prod(self.dims[1:]) if len(self.dims) > 1 else 1
            if width == 0:
                return [""] * count
            return [self.data[i * width:(i + 1) * width].decode("latin-1") for i in range(count)]
        if self.type == 1:
            return list(self.data)
        if self.type == 2:
            return np.frombuffer(self.data, dtype=_int16(proc)).astype(int).tolist()
        if self.type == 4:
            return decode_floats(self.data, proc).tolist()
        return []


def char_entry(name: str, group_id: int, values: list[str]) -> Entry:
    strings = [str(v).encode("ascii", "replace") for v in values] or [b""]
    width = max(1, max(len(s) for s in strings))
    if len(strings) > 255 or width > 255:
        raise ValueError(f"{name}: too many or too long strings for one C3D parameter")
    data = b"".join(s.ljust(width) for s in strings)
    return Entry(name=name, group_id=group_id, is_group=False, locked=False, type=-1,
                 dims=(width, len(strings)), data=data)


def float_entry(name: str, group_id: int, values: list[float], proc: str) -> Entry:
    values = list(values) or [0.0]
    if len(values) > 255:
        raise ValueError(f"{name}: too many values for one C3D parameter")
    return Entry(name=name, group_id=group_id, is_group=False, locked=False, type=4, dims=(len(values),),
                 data=encode_floats(np.array(values, dtype=np.float64), proc))


def int_entry(name: str, group_id: int, values: list[int], proc: str) -> Entry:
    """An int16 parameter; values from 32768 to 65535 are stored as the unsigned words they are (as a C3D's
    frame counts are)."""
    words = [int(v) for v in values] or [0]
    if len(words) > 255 or min(words) < -32768 or max(words) > 65535:
        raise ValueError(f"{name}: too many values, or one beyond 16 bits, for one C3D parameter")
    data = np.array([w - 65536 if w > 32767 else w for w in words], dtype=_int16(proc)).tobytes()
    return Entry(name=name, group_id=group_id, is_group=False, locked=False, type=2, dims=(len(words),), data=data)


def _parse_entries(data: bytes, start: int, end: int, proc: str) -> list[Entry]:
    """Walk the parameter section from start (after its 4-byte header) up to end."""
    order = ">h" if proc == "MIPS" else "<h"
    entries: list[Entry] = []
    p = start
    while p + 4 <= end:
        name_len, gid = struct.unpack_from("bb", data, p)
        if name_len == 0 or gid == 0:
            break
        n = abs(name_len)
        name_bytes = data[p + 2:p + 2 + n]
        if len(name_bytes) < n or p + 4 + n > len(data):  # the name, or the offset after it, past the end
            raise C3DLayoutError(f"the parameter section is cut off at byte {p}")
        name = name_bytes.decode("latin-1")
        if not all(ch.isprintable() for ch in name):
            raise C3DLayoutError(f"the parameter section holds an entry with an unreadable name at byte {p}")
        (offset,) = struct.unpack_from(order, data, p + 2 + n)
        q = p + 4 + n
        if gid < 0:
            if q + 1 > end:
                raise C3DLayoutError(f"group {name} is cut off")
            desc_len = data[q]
            size_end = q + 1 + desc_len
            entry = Entry(name=name, group_id=-gid, is_group=True, locked=name_len < 0, desc=data[q + 1:size_end])
            data_end = q
        else:
            if q + 2 > end:
                raise C3DLayoutError(f"parameter {name} is cut off")
            ptype, ndims = struct.unpack_from("bB", data, q)
            if ptype not in (-1, 1, 2, 4):
                raise C3DLayoutError(f"parameter {name} has an unknown data type {ptype}")
            dims = tuple(data[q + 2:q + 2 + ndims])
            count = abs(ptype) * (math.prod(dims) if ndims else 1)
            data_end = q + 2 + ndims + count
            if data_end > end:
                raise C3DLayoutError(f"parameter {name} runs past the parameter section")
            desc_len = data[data_end] if data_end < end else 0
            size_end = data_end + 1 + desc_len
            entry = Entry(name=name, group_id=gid, is_group=False, locked=name_len < 0, type=ptype, dims=dims,
                          data=data[q + 2 + ndims:data_end])
        by_offset = p + 2 + n + offset
        if offset == 0:
            entry.desc = entry.desc if gid < 0 else data[data_end + 1:size_end]
            entries.append(entry)
            break
        if data_end <= by_offset <= size_end:
            # the offset agrees with the data; a writer that left out the description (OptiTrack
            # Motive's LABELS) is read by its offset, which is where the next entry starts
            if gid > 0:
                entry.desc = data[data_end + 1:by_offset] if by_offset == size_end else b""
            nxt = by_offset
        else:
            if gid > 0:
                entry.desc = data[data_end + 1:size_end]
            nxt = size_end
        entries.append(entry)
        p = nxt
    return entries


# ---------------------------------------------------------------- the file


@dataclass
class RawC3D:
    data: bytes
    proc: str
    param_block: int  # 1-based block of the parameter section
    param_blocks: int
    entries: list[Entry]
    n_points: int
    analog_per_frame: int  # analog samples per point frame, all channels (header word 3)
    scale: float  # POINT scale: negative = float storage
    data_block: int  # 1-based first block of the data section
    first_frame: int
    n_frames: int
    frames_in_header: int
    notes: list[str] = field(default_factory=list)

    # -- parameters
    def groups(self) -> dict[int, str]:
        return {e.group_id: e.name.upper() for e in self.entries if e.is_group}

    def params(self) -> dict[str, dict[str, list]]:
        """{GROUP: {NAME: value list}} like ezc3d's parameters (values only)."""
        names = self.groups()
        out: dict[str, dict[str, list]] = {g: {} for g in names.values()}
        for e in self.entries:
            if not e.is_group and e.group_id in names:
                out[names[e.group_id]][e.name.upper()] = e.value(self.proc)
        return out

    @property
    def is_float(self) -> bool:
        return self.scale < 0

    @property
    def word_bytes(self) -> int:
        return 4 if self.is_float else 2

    @property
    def frame_bytes(self) -> int:
        return (4 * self.n_points + self.analog_per_frame) * self.word_bytes

    @property
    def data_offset(self) -> int:
        return (self.data_block - 1) * BLOCK

    def _point_words(self) -> np.ndarray:
        """(F, N, 4) raw words as uint8 views of each sample ((F, N, 4 * word_bytes) bytes)."""
        F, N, wb = self.n_frames, self.n_points, self.word_bytes
        raw = np.frombuffer(self.data, dtype=np.uint8, count=F * self.frame_bytes, offset=self.data_offset)
        return raw.reshape(F, self.frame_bytes)[:, :4 * N * wb].reshape(F, N, 4 * wb)

    def points_at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """x, y, z in file units (K, 3) of the samples (rows[k], cols[k]) as stored, decoding only those
        (points() of a long take's every sample costs a gigabyte)."""
        words = self._point_words()[np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)]
        wb = self.word_bytes
        xyz = np.ascontiguousarray(words[:, :3 * wb]).reshape(-1)
        if self.is_float:
            return decode_floats(xyz, self.proc).reshape(-1, 3)
        return xyz.view(_int16(self.proc)).reshape(-1, 3).astype(np.float64) * abs(self.scale)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """x, y, z in file units (F, N, 3) and the fourth word as the spec's int16 (F, N).

        For float storage the fourth word is a float holding that int16's bit pattern as a number:
        -1.0 and 65535.0 (0xFFFF) both mean invalid.
        """
        F, N = self.n_frames, self.n_points
        if F == 0 or N == 0:
            return np.zeros((F, N, 3)), np.zeros((F, N), dtype=np.int64)
        words = self._point_words()
        if self.is_float:
            values = decode_floats(np.ascontiguousarray(words).reshape(-1), self.proc).reshape(F, N, 4)
            xyz = values[..., :3]
            fourth = values[..., 3]
            with np.errstate(invalid="ignore"):
                ok = np.isfinite(fourth) & (np.abs(fourth) < 2 ** 31)
            as_int = np.where(ok, np.rint(np.where(ok, fourth, 0)), -1).astype(np.int64)
            word = ((as_int & 0xFFFF) ^ 0x8000) - 0x8000  # the low 16 bits as a signed int16
        else:
            ints = np.ascontiguousarray(words).view(_int16(self.proc)).reshape(F, N, 4).astype(np.int64)
            xyz = ints[..., :3] * abs(self.scale)
            word = ints[..., 3]
        return xyz.astype(np.float64), word

    # -- writing
    def patched(self, rows: np.ndarray, cols: np.ndarray, xyz: np.ndarray, fill: np.ndarray,
                group: str, params: dict[str, list]) -> bytes:
        """This file's bytes with samples (rows[k], cols[k]) set to xyz[k] (file units, file axes),
        and group `group` (replacing one of that name) holding params (name -> list of str or float, or an
        integer array: int16 words).

        Samples with fill[k] get a fourth word of 0 (residual 0: computed, not measured; no camera);
        the others keep their fourth word. Everything else in the data section is unchanged, to
        the byte.
        """
        out = bytearray(self.data)
        wb = self.word_bytes
        base = self.data_offset
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
        if self.is_float:
            encoded = np.frombuffer(encode_floats(xyz, self.proc), dtype=np.uint8).reshape(-1, 3 * wb)
        else:
            ints = np.rint(xyz / abs(self.scale))
            if ints.size and np.abs(ints).max() > 32767:
                k = int(np.argmax(np.abs(ints).max(-1)))
                raise InputError(f"point {int(cols[k]) + 1}, frame {int(rows[k]) + self.first_frame}: the new position "
                                 f"does not fit this integer C3D's range ({abs(self.scale) * 32767:g} units at its scale); "
                                 "write NPZ, or re-export the take as a float C3D")
            encoded = np.frombuffer(ints.astype(_int16(self.proc)).tobytes(), dtype=np.uint8).reshape(-1, 3 * wb)
        zero4 = encode_floats(np.zeros(1), self.proc) if self.is_float else np.zeros(1, _int16(self.proc)).tobytes()
        view = np.frombuffer(out, dtype=np.uint8)  # writes through to out
        at = base + rows * self.frame_bytes + cols * 4 * wb
        view[at[:, None] + np.arange(3 * wb)] = encoded
        fill = np.asarray(fill, dtype=bool)
        view[at[fill, None] + 3 * wb + np.arange(wb)] = np.frombuffer(zero4, dtype=np.uint8)
        del view
        return self._with_group(bytes(out), group, params)

    def _with_group(self, data: bytes, group: str, params: dict[str, list]) -> bytes:
        """Rewrite the parameter section with `group` replaced by params, moving the data if it grows."""
        gid_old = next((e.group_id for e in self.entries if e.is_group and e.name.upper() == group), None)
        kept = [e for e in self.entries if e.group_id != gid_old] if gid_old is not None else list(self.entries)
        gid = gid_old or (max([e.group_id for e in kept] + [0]) + 1)
        if gid > 127:
            raise InputError("the C3D already holds 127 parameter groups; no room for the GFPOSE group")
        new = [Entry(name=group, group_id=gid, is_group=True, locked=False, desc=b"written by gfpose")]
        for name, values in params.items():
            if isinstance(values, np.ndarray) and np.issubdtype(values.dtype, np.integer):  # int16 words
                new.append(int_entry(name, gid, values.tolist(), self.proc))
            elif values and isinstance(values[0], str):
                new.append(char_entry(name, gid, values))
            else:
                new.append(float_entry(name, gid, [float(v) for v in values], self.proc))
        entries = kept + new
        body = b"".join(e.encode(self.proc, last=i == len(entries) - 1) for i, e in enumerate(entries))
        head = bytearray(data[(self.param_block - 1) * BLOCK:(self.param_block - 1) * BLOCK + 4])
        section = bytes(head) + body
        blocks = max(self.param_blocks, -(-len(section) // BLOCK))
        if blocks > 255:
            raise InputError("the C3D's parameter section would exceed 255 blocks")
        room = self.data_block - self.param_block
        shift = max(0, blocks - room)
        start = (self.param_block - 1) * BLOCK
        section = bytearray(section.ljust(blocks * BLOCK, b"\0"))
        section[2] = blocks
        if shift:
            entries = self._shift_data_start(entries, shift)
            body = b"".join(e.encode(self.proc, last=i == len(entries) - 1) for i, e in enumerate(entries))
            section = bytearray((bytes(head) + body).ljust(blocks * BLOCK, b"\0"))
            section[2] = blocks
            out = bytearray(data[:start]) + section + bytearray(data[start + room * BLOCK:])
            struct.pack_into(">H" if self.proc == "MIPS" else "<H", out, 16, self.data_block + shift)
            return bytes(out)
        out = bytearray(data)
        out[start:start + len(section)] = section
        return bytes(out)

    def _shift_data_start(self, entries: list[Entry], shift: int) -> list[Entry]:
        """POINT:DATA_START moved on by shift blocks (stored as the 16-bit word it is)."""
        point = next((e.group_id for e in entries if e.is_group and e.name.upper() == "POINT"), None)
        order = ">u2" if self.proc == "MIPS" else "<u2"
        for e in entries:
            if not e.is_group and e.group_id == point and e.name.upper() == "DATA_START" and e.type == 2:
                value = int(np.frombuffer(e.data[:2], dtype=order)[0])
                e.data = np.array([value + shift], dtype=order).tobytes() + e.data[2:]
        return entries


def parse(data: bytes, where: str = "C3D") -> RawC3D:
    """Header and parameters of C3D bytes; raises C3DLayoutError (a sentence) on what is not C3D."""
    if len(data) < 2 * BLOCK:
        raise C3DLayoutError("it is shorter than a C3D header and parameter block")
    param_block = data[0]
    if data[1] != 0x50 or param_block < 2:
        raise C3DLayoutError("its header lacks the C3D key byte (0x50)")
    pstart = (param_block - 1) * BLOCK
    if pstart + 4 > len(data):
        raise C3DLayoutError("its parameter section lies past the end of the file")
    proc_code = data[pstart + 3]
    if proc_code not in PROCESSORS:
        raise C3DLayoutError(f"its processor type byte is {proc_code}, not 84 (Intel), 85 (DEC) or 86 (MIPS)")
    proc = PROCESSORS[proc_code]
    nblocks = data[pstart + 2]
    order = ">" if proc == "MIPS" else "<"
    words = struct.unpack_from(order + "12H", data, 0)
    n_points, analog, first, last = words[1], words[2], words[3], words[4]
    data_block = words[8]
    scale = float(decode_floats(data[12:16], proc)[0])
    # some writers count fewer parameter blocks than they fill: read up to the data section
    end = min(len(data), max(pstart + max(nblocks, 1) * BLOCK, (words[8] - 1) * BLOCK if words[8] > param_block else 0))
    entries = _parse_entries(data, pstart + 4, end, proc)
    raw = RawC3D(data=data, proc=proc, param_block=param_block, param_blocks=nblocks, entries=entries,
                 n_points=n_points, analog_per_frame=analog, scale=scale, data_block=data_block,
                 first_frame=first, n_frames=0, frames_in_header=max(0, last - first + 1))
    params = raw.params()
    point = params.get("POINT", {})
    used = point.get("USED")
    if used and int(used[0]) & 0xFFFF != n_points:
        raw.notes.append(f"the header says {n_points} points and POINT:USED {int(used[0]) & 0xFFFF}; "
                         "the header's count is used")
    if not np.isfinite(scale) or scale == 0:
        p_scale = point.get("SCALE")
        scale = float(p_scale[0]) if p_scale else -1.0
        raw.scale = scale if np.isfinite(scale) and scale != 0 else -1.0
    if data_block < 1:
        start = point.get("DATA_START")
        raw.data_block = int(start[0]) & 0xFFFF if start else 0
    if raw.data_block <= param_block:
        raise C3DLayoutError("its data section does not start after the parameter section")
    raw.n_frames, raw.analog_per_frame = _layout(raw, params, len(data))
    return raw


#: frames a C3D header's 16-bit words can count; a longer take counts them in TRIAL:ACTUAL_START/END_FIELD
MAX_HEADER_FRAMES = 65535


def _layout(raw: RawC3D, params: dict, size: int) -> tuple[int, int]:
    """(frames, analog words per frame) that account for the file's size.

    The header and the parameters disagree in real files (BTS writes ANALOG:USED without
    ANALOG:RATE, MotionMonitor a header analog count of one sample per channel for seven): the
    candidates from both are tried, and the one whose frames fill the data section up to the last
    block's padding wins (ties go to the header). A take longer than 65,535 frames is counted by a float
    POINT:FRAMES (as the spec recommends) or POINT:LONG_FRAMES, or by TRIAL:ACTUAL_START/END_FIELD; where
    every count stops at 65,535 (ezc3d writes no more), the complete frames that fill the file are read,
    said. Where none fits, the largest number of complete frames under the header's layout is read, and a
    note says so.
    """
    point, analog = params.get("POINT", {}), params.get("ANALOG", {})
    frames = [raw.frames_in_header]
    counted = False  # a parameter counts past the 16-bit words' most
    for key in ("FRAMES", "LONG_FRAMES"):  # POINT:FRAMES as an int16 word, or a float past 65535 (as the spec
        value = point.get(key)  # recommends for long takes; LONG_FRAMES is another writers' float for it)
        if value:
            v = float(value[0])
            if np.isfinite(v) and v == int(v):
                frames.append(int(v) if v > MAX_HEADER_FRAMES else int(v) & 0xFFFF)
                counted |= v > MAX_HEADER_FRAMES
    trial = params.get("TRIAL", {})
    if trial.get("ACTUAL_END_FIELD") and trial.get("ACTUAL_START_FIELD"):  # > 65535 frames
        end, begin = trial["ACTUAL_END_FIELD"], trial["ACTUAL_START_FIELD"]
        if len(end) >= 2 and len(begin) >= 2:
            frames.append((int(end[0]) & 0xFFFF) + ((int(end[1]) & 0xFFFF) << 16)
                          - (int(begin[0]) & 0xFFFF) - ((int(begin[1]) & 0xFFFF) << 16) + 1)
            counted |= frames[-1] > MAX_HEADER_FRAMES
    analogs = [raw.analog_per_frame]
    used = analog.get("USED")
    rate, p_rate = analog.get("RATE"), point.get("RATE")
    if used:
        n = int(used[0]) & 0xFFFF
        analogs.append(n)
        if rate and p_rate and float(p_rate[0]) > 0:
            analogs.append(n * max(1, round(float(rate[0]) / float(p_rate[0]))))
    filling = len(frames)  # candidates from here on are the file's own count, not a header's or parameter's
    if max(frames) == MAX_HEADER_FRAMES and not counted:  # a writer that counts no further (ezc3d)
        for a in analogs:
            raw.analog_per_frame = a
            if raw.frame_bytes and size > raw.data_offset and (size - raw.data_offset) // raw.frame_bytes > MAX_HEADER_FRAMES:
                f = (size - raw.data_offset) // raw.frame_bytes
                # the last block's zero padding holds whole frames where frames are small: not frames
                while size - (raw.data_offset + (f - 1) * raw.frame_bytes) <= BLOCK and not any(
                        raw.data[raw.data_offset + (f - 1) * raw.frame_bytes:raw.data_offset + f * raw.frame_bytes]):
                    f -= 1
                frames.append(f)
    best = None
    for fi, f in enumerate(frames):
        for ai, a in enumerate(analogs):
            if f <= 0:
                continue
            raw.analog_per_frame = a
            need = raw.data_offset + f * raw.frame_bytes
            if need <= size:
                slack = size - need
                key = (slack >= BLOCK, slack, fi + ai)
                if best is None or key < best[0]:
                    best = (key, f, a, fi)
    if best is not None and best[3] >= filling:
        _, f, a, _ = best
        raw.analog_per_frame = a
        raw.notes.append(f"the header and POINT:FRAMES count {MAX_HEADER_FRAMES} frames, the most their 16-bit words "
                         f"hold, and no parameter counts more (no TRIAL:ACTUAL_END_FIELD, no float POINT:FRAMES): "
                         f"the file holds {f} complete frames, all read")
        return f, a
    if best is not None and not best[0][0]:
        _, f, a, _ = best
        if f != raw.frames_in_header and not (raw.frames_in_header == MAX_HEADER_FRAMES < f and counted):
            raw.notes.append(f"the header says {raw.frames_in_header} frames; the parameters' {f} fill the file")
        return f, a
    raw.analog_per_frame = analogs[0]
    fb = max(raw.frame_bytes, 1)
    avail = max(0, size - raw.data_offset) // fb
    f = min(frames[0], avail) if raw.frame_bytes else 0
    if best is not None:  # the data fit but leave more than a block over: trailing data, keep the header's
        _, f, a, _ = best
        raw.analog_per_frame = a
        return f, a
    if f < frames[0]:
        raw.notes.append(f"the header says {frames[0]} frames but the file holds {f} complete ones; {f} are read")
    return f, analogs[0]
