#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into test/fuzz/corpus/<target>/.

Each seed is a small program in the target's input format (see the op enums in
host_receive_fuzz.cpp and host_send_fuzz.cpp, and hub_header_fuzz.cpp's reader); the
numbers below must follow those enums. Seeds named crash-* reproduce a finding and are
written by hand from the fuzzer's artifact, not by this script. The config_loader seeds
are the shipped config/*.toml files plus the hand-written cases listed here.

Usage: test/fuzz/make_seeds.py   (rewrites the generated seeds; keeps crash-* files)
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

u8 = lambda v: struct.pack("<B", v & 0xFF)
i8 = lambda v: struct.pack("<b", v)
u16 = lambda v: struct.pack("<H", v & 0xFFFF)
u32 = lambda v: struct.pack("<I", v & 0xFFFFFFFF)
u64 = lambda v: struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)

INLINE = 0xFFFFFFFF
# The fuzz hub's slots (fuzz_hub.hpp): 0..3 of 64 B, 4..5 of 256 B, 6 of 1 KiB.
SLOT_SIZES = [64] * 4 + [256] * 2 + [1024]


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def clear(target):
    directory = os.path.join(CORPUS, target)
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            if not name.startswith("crash-"):
                os.remove(os.path.join(directory, name))


# --- host_receive ----------------------------------------------------------------------
class R:
    PUBLISH, MOVE_HEAD, FILL_SLOT, RECEIVE, RELEASE, WRITE_ENTRY, PROGRESS, SET_WAKE_ON, \
        TAKE_RETURNS, MOVE_RETURN_TAIL, MOVE_SEND_TAIL, REPORT_DEATH, HANG_UP, AUDIT = range(14)


def publish(kind, length=0, slot=INLINE, flags=0, aux=0, msg_id=0, inline=b""):
    return (u8(R.PUBLISH) + u16(kind) + u16(flags) + u32(length) + u32(slot) + u32(aux) +
            u64(msg_id) + u8(len(inline)) + inline)


def ready_payload(pid=4242, name=b"fuzz-cell", name_length=None):
    n = len(name) if name_length is None else name_length
    return u32(pid) + u32(n) + name.ljust(32, b"\0")[:32]


def fill(slot, data, offset=0):
    return u8(R.FILL_SLOT) + u8(slot) + u16(offset) + u8(len(data)) + data


def receive(keep=False):
    return u8(R.RECEIVE) + u8(1 if keep else 0)


def index_abs(op, value):
    return u8(op) + u8(0) + u64(value)


def index_step(op, step):
    return u8(op) + u8(1) + i8(step)


def host_receive_seeds():
    t = "host_receive"
    clear(t)
    ready = publish(4, 40, inline=ready_payload())
    write(t, "ready", ready + receive())
    write(t, "ready_then_messages",
          ready + receive() + publish(1, 5, inline=b"hello") + publish(2, 0, msg_id=7) +
          publish(3, 3, aux=9, msg_id=7, inline=b"abc") + receive() + receive() + receive() +
          u8(R.AUDIT))
    write(t, "slot_payload_kept_and_released",
          ready + receive() + fill(4, b"x" * 200) + publish(1, 200, slot=4) + receive(True) +
          fill(0, b"y" * 64) + publish(1, 64, slot=0) + receive(True) + u8(R.AUDIT) +
          u8(R.RELEASE) + u8(0) + u8(R.TAKE_RETURNS) + u8(R.RELEASE) + u8(0) +
          u8(R.TAKE_RETURNS) + u8(R.AUDIT))
    write(t, "slot_reused_after_return",
          ready + receive() + publish(1, 64, slot=1) + receive() + u8(R.TAKE_RETURNS) +
          publish(1, 10, slot=1) + receive(True) + u8(R.AUDIT))
    write(t, "largest_slot_full", publish(1, 1024, slot=6) + receive(True) + u8(R.AUDIT))
    write(t, "ring_wraps", b"".join(publish(1, 1, inline=bytes([i])) + receive()
                                    for i in range(20)))
    write(t, "ring_exactly_full",
          b"".join(publish(1, 0) for _ in range(8)) + receive() * 9)
    # Each descriptor check the host makes, one violation per seed.
    write(t, "bad_kind_0", publish(0) + receive())
    write(t, "bad_kind_6", publish(6) + receive())
    write(t, "bad_flags", publish(1, flags=1) + receive() + receive())
    write(t, "bad_inline_length", publish(1, 41) + receive())
    write(t, "bad_slot", publish(1, 10, slot=7) + receive())
    write(t, "bad_slot_huge", publish(1, 10, slot=0xFFFFFFFE) + receive())
    write(t, "bad_length_past_slot", publish(1, 65, slot=3) + receive())
    write(t, "bad_slot_sent_twice",
          publish(1, 8, slot=2) + receive(True) + publish(1, 8, slot=2) + receive())
    # Ring heads: too far ahead, behind, and the maximum.
    write(t, "head_past_capacity", index_abs(R.MOVE_HEAD, 9) + receive())
    write(t, "head_far_ahead", index_abs(R.MOVE_HEAD, 1 << 63) + receive())
    write(t, "head_behind",
          publish(1) + publish(1) + receive() + receive() + index_step(R.MOVE_HEAD, -1) +
          receive())
    write(t, "head_at_capacity", index_abs(R.MOVE_HEAD, 8) + receive() * 9)
    # READY: malformed, repeated, zero pid, long name, in a slot.
    write(t, "ready_short", publish(4, 39, inline=ready_payload()[:39]) + receive())
    write(t, "ready_repeated", ready + receive() + ready + receive())
    write(t, "ready_pid_zero", publish(4, 40, inline=ready_payload(pid=0)) + receive())
    write(t, "ready_name_too_long",
          publish(4, 40, inline=ready_payload(name_length=33)) + receive())
    write(t, "ready_in_slot",
          fill(0, ready_payload()) + publish(4, 40, slot=0) + receive() + u8(R.TAKE_RETURNS))
    write(t, "ready_in_slot_bad",
          fill(0, ready_payload(pid=0)) + publish(4, 40, slot=0) + receive() +
          u8(R.TAKE_RETURNS))
    write(t, "goodbye", ready + receive() + publish(5) + receive())
    # The peer entry and progress, death and hang-up.
    write(t, "entry_and_progress",
          u8(R.WRITE_ENTRY) + u8(2) + u64(17) + u8(R.WRITE_ENTRY) + u8(3) + u64(123456789) +
          u8(R.WRITE_ENTRY) + u8(0) + u64(3) + u8(R.PROGRESS) + u8(R.REPORT_DEATH) + u8(1) +
          u8(R.PROGRESS) + publish(1) + receive())
    write(t, "send_tail_moved", index_step(R.MOVE_SEND_TAIL, 93) + u8(R.PROGRESS))
    write(t, "wake_on_and_hang_up",
          u8(R.SET_WAKE_ON) + u32(7) + u32(1) + b"".join(publish(1) + receive()
                                                          for _ in range(4)) +
          u8(R.HANG_UP) + publish(1, 64, slot=0) + receive() + receive())
    write(t, "return_tail_moved",
          publish(1, 64, slot=0) + receive() + index_abs(R.MOVE_RETURN_TAIL, 5) +
          publish(1, 64, slot=0) + receive())


# --- host_send -------------------------------------------------------------------------
class S:
    SEND, TAKE, MOVE_TAIL, GIVE_BACK, MOVE_RETURN_HEAD, SET_WAKE_ON, HANG_UP, \
        WAIT_FOR_SPACE, PROGRESS, AUDIT = range(10)


def send(length, pattern=0x41):
    return u8(S.SEND) + u16(length) + u8(pattern)


def take(n):
    return u8(S.TAKE) + u8(n)


def give(slot):
    return u8(S.GIVE_BACK) + u8(slot)


def give_raw(slot):
    return u8(S.GIVE_BACK) + u8(0xF0) + u32(slot)


def host_send_seeds():
    t = "host_send"
    clear(t)
    write(t, "sizes", b"".join(send(n) + take(1) for n in (0, 1, 40, 41, 64, 65, 256, 257,
                                                            1024)) + u8(S.PROGRESS) +
          u8(S.AUDIT))
    write(t, "too_large", send(1025) + send(65535))
    write(t, "exhaust_then_no_slot", send(64) * 4 + send(256) * 2 + send(1024) + send(64) +
          u8(S.AUDIT) + u8(S.WAIT_FOR_SPACE))
    write(t, "returned_slot_is_reused_first",
          send(64) * 3 + take(3) + give(1) + send(64) + give(0) + give(2) + send(64) + send(64) +
          u8(S.AUDIT))
    write(t, "larger_class_when_smaller_full", send(64) * 5 + send(100) * 2 + u8(S.AUDIT))
    write(t, "return_not_in_flight", give(3) + send(64))
    write(t, "return_twice", send(64) + take(1) + give(0) + give(0) + send(64))
    write(t, "return_out_of_range", send(64) + give(7) + send(64))
    write(t, "return_huge_index", send(64) + give_raw(0xFFFFFFFF) + send(64))
    write(t, "return_head_far_ahead", send(64) + u8(S.MOVE_RETURN_HEAD) + u8(0) + u64(1 << 40) +
          u8(S.AUDIT) + send(64))
    write(t, "return_head_behind", send(64) + give(0) + send(64) + u8(S.MOVE_RETURN_HEAD) +
          u8(1) + i8(-1) + send(64))
    write(t, "ring_full_then_room", send(0) * 9 + take(4) + send(0) * 5 + u8(S.PROGRESS))
    write(t, "tail_past_head_at_full", send(0) * 8 + u8(S.MOVE_TAIL) + u8(1) + i8(20) +
          u8(S.PROGRESS) + send(0))
    write(t, "tail_behind_at_full", send(0) * 8 + take(8) + send(0) * 8 + u8(S.MOVE_TAIL) +
          u8(1) + i8(-3) + send(0))
    write(t, "tail_far_ahead", send(0) + u8(S.MOVE_TAIL) + u8(0) + u64(1 << 62) +
          u8(S.PROGRESS) + u8(S.WAIT_FOR_SPACE))
    write(t, "dead_cell_with_wake_on", u8(S.SET_WAKE_ON) + u32(2) + send(10) + u8(S.HANG_UP) +
          send(10) + send(100) + u8(S.WAIT_FOR_SPACE))
    write(t, "hang_up_without_wake_on", u8(S.HANG_UP) + send(10) + u8(S.WAIT_FOR_SPACE))


# --- hub_header ------------------------------------------------------------------------
def align(value, to):
    return (value + to - 1) // to * to


def header(max_peers, ring_capacity, classes, magic=b"CELLHUB\0", major=1, minor=1, tweak=None):
    """Lays out a hub as hub_geometry::compute does and returns its 192-byte header."""
    first = 0
    offset = 0
    for size, count in classes:
        first += count
        offset += size * count
    arena = align(offset, 4096)
    return_capacity = 1 << (first - 1).bit_length()
    table = 192
    region0 = align(table + max_peers * 128, 4096)
    ring_bytes = 128 + ring_capacity * 64
    return_bytes = align(128 + return_capacity * 4, 64)
    at = 128
    to_cell_ring = at; at += ring_bytes
    to_host_ring = at; at += ring_bytes
    to_cell_return = at; at += return_bytes
    to_host_return = at; at += return_bytes
    at = align(at, 4096)
    to_cell_arena = at; at += arena
    to_host_arena = at; at += arena
    stride = align(at, 4096)
    file_size = region0 + max_peers * stride
    fields = dict(file_size=file_size, table=table, region0=region0, stride=stride,
                  to_cell_ring=to_cell_ring, to_host_ring=to_host_ring,
                  to_cell_return=to_cell_return, to_host_return=to_host_return,
                  to_cell_arena=to_cell_arena, to_host_arena=to_host_arena,
                  return_capacity=return_capacity)
    if tweak:
        tweak(fields)
    h = (magic + u16(major) + u16(minor) + u16(max_peers) + u16(len(classes)) +
         u64(fields["file_size"]) + u32(1) + u32(ring_capacity) + u64(0x1234) +
         u64(fields["table"]) + u64(fields["region0"]) + u64(fields["stride"]) +
         u64(fields["to_cell_ring"]) + u64(fields["to_host_ring"]) +
         u64(fields["to_cell_return"]) + u64(fields["to_host_return"]) +
         u64(fields["to_cell_arena"]) + u64(fields["to_host_arena"]) +
         u32(fields["return_capacity"]) + u32(0))
    for size, count in classes:
        h += u32(size) + u32(count)
    h = h.ljust(192, b"\0")
    assert len(h) == 192
    return h, file_size


def attach_tail(incarnation=1, token=0xABCDEF, state=1, wrong_incarnation=0, wrong_token=0):
    # own size, unused claimed size, attach, entry (incarnation, token, state), ticket tweaks
    return (u8(1) + u64(0) + u8(0) + u32(incarnation) + u64(token) + u8(state) +
            u8(wrong_incarnation) + u8(wrong_token))


def hub_header_seeds():
    t = "hub_header"
    clear(t)
    default = [(1024, 64), (16384, 16), (262144, 4), (1048576, 4)]
    h, size = header(64, 256, default)
    write(t, "default_layout", h + u8(1) + u64(0) + u8(1))
    small = [(64, 1)]
    h, size = header(1, 2, small)
    write(t, "tiny_attach", h + attach_tail())
    write(t, "tiny_attach_not_reserved", h + attach_tail(state=2))
    write(t, "tiny_attach_stale_ticket", h + attach_tail(wrong_incarnation=1))
    write(t, "tiny_attach_wrong_token", h + attach_tail(wrong_token=1))
    h, size = header(2, 8, [(64, 4), (256, 2), (1024, 1)])
    write(t, "fuzz_hub_attach", h + attach_tail())
    write(t, "eight_classes",
          header(1, 4, [(64 * (i + 1), 1) for i in range(8)])[0] + attach_tail())
    write(t, "bad_magic", header(1, 2, small, magic=b"CELLHUX\0")[0] + attach_tail())
    write(t, "bad_major", header(1, 2, small, major=2)[0] + attach_tail())
    write(t, "other_minor", header(1, 2, small, minor=7)[0] + attach_tail())
    for name in ("file_size", "table", "region0", "stride", "to_cell_ring", "to_host_ring",
                 "to_cell_return", "to_host_return", "to_cell_arena", "to_host_arena",
                 "return_capacity"):
        def off_by_one(fields, name=name):
            fields[name] += 1
        write(t, "off_by_one_" + name, header(1, 2, small, tweak=off_by_one)[0] + attach_tail())
    write(t, "file_shorter_than_claimed", header(1, 2, small)[0] + u8(0) + u64(4096) + u8(0))
    write(t, "zero_classes", header(1, 2, [])[0] + attach_tail())
    write(t, "most_peers", header(4096, 65536, [(64 << 20, 65536)])[0] + u8(1) + u64(0) + u8(1))


# --- config_loader ---------------------------------------------------------------------
def config_loader_seeds():
    t = "config_loader"
    clear(t)
    os.makedirs(os.path.join(CORPUS, t), exist_ok=True)
    config_dir = os.path.join(ROOT, "config")
    for base, _, files in os.walk(config_dir):
        for name in sorted(files):
            if name.endswith(".toml"):
                rel = os.path.relpath(os.path.join(base, name), config_dir)
                shutil.copyfile(os.path.join(base, name),
                                os.path.join(CORPUS, t, "shipped-" + rel.replace("/", "-")))
    minimal = b'version = 1\n[hub]\npath = "/dev/shm/x"\n[[cell]]\nname = "a"\n' \
              b'binary = "cellhub-demo-cell"\n'
    write(t, "minimal.toml", minimal)
    write(t, "nul_in_path.toml", minimal.replace(b"/dev/shm/x", b"/dev/shm/x\\u0000y"))
    write(t, "relative_binary.toml", minimal.replace(b"cellhub-demo-cell", b"./worker"))
    write(t, "pool.toml",
          b'version = 1\n[hub]\npath = "/dev/shm/x"\nmax_peers = 3\n[supervisor]\n'
          b'strategy = "simple_one_for_one"\nreplicas = 3\n[[cell]]\nname = "w"\n'
          b'binary = "worker"\n[load]\nrate = 10.5\npayload = "1KiB"\ntargets = ["w"]\n')
    write(t, "slot_classes.toml",
          b'version = 1\n[hub]\npath = "/dev/shm/x"\nring_capacity = 2\n'
          b'[[hub.slot_class]]\nsize = "64B"\ncount = 1\n[[hub.slot_class]]\nsize = 128\n'
          b'count = 65536\n')
    write(t, "nested_groups.toml",
          b'version = 1\n[hub]\npath = "/dev/shm/x"\n[[group]]\nname = "g"\n'
          b'strategy = "rest_for_one"\n[[group.group]]\nname = "h"\n[[group.group.cell]]\n'
          b'name = "c"\nbinary = "worker"\nbackoff = { min = "1ms", max = "2s", jitter = 0.5, '
          b'reset_after = "1m" }\n')


if __name__ == "__main__":
    host_receive_seeds()
    host_send_seeds()
    hub_header_seeds()
    config_loader_seeds()
