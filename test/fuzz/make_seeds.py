#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into test/fuzz/corpus/<target>/.

Each seed is a small program in the target's input format (see the op enums in
host_receive_fuzz.cpp and host_send_fuzz.cpp, and the readers of region_layout_fuzz.cpp
and region_handover_fuzz.cpp); the numbers below must follow those enums. Seeds named crash-* reproduce a finding and are
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


# --- region_layout and region_handover -------------------------------------------------
def align(value, to):
    return (value + to - 1) // to * to


def layout_fields(ring_capacity, classes):
    """Lays out a peer region as hub_geometry::compute does; returns its offsets and sizes."""
    first = sum(count for _, count in classes)
    arena = align(sum(size * count for size, count in classes), 4096)
    return_capacity = 1 << (first - 1).bit_length() if first else 0
    entry = 256  # sizeof(region_header)
    control = entry + 128  # sizeof(peer_entry)
    ring_bytes = 128 + ring_capacity * 64
    return_bytes = align(128 + return_capacity * 4, 64)
    at = control + 128  # sizeof(peer_control)
    f = dict(ring_capacity=ring_capacity, return_capacity=return_capacity, entry=entry,
             control=control)
    f["to_cell_ring"] = at; at += ring_bytes
    f["to_host_ring"] = at; at += ring_bytes
    f["to_cell_return"] = at; at += return_bytes
    f["to_host_return"] = at; at += return_bytes
    at = align(at, 4096)
    f["to_cell_arena"] = at; at += arena
    f["to_host_arena"] = at; at += arena
    f["region_size"] = align(at, 4096)
    return f


LAYOUT_WORDS = ("region_size", "entry", "control", "to_cell_ring", "to_host_ring",
                "to_cell_return", "to_host_return", "to_cell_arena", "to_host_arena")


def layout(max_peers, ring_capacity, classes, tweak=None, class_count=None, reserved=0,
           unused_classes=b""):
    """Returns a 152-byte layout_desc as a host writes it (tweak changes fields first)."""
    f = layout_fields(ring_capacity, classes)
    f["max_peers"] = max_peers
    f["class_count"] = len(classes) if class_count is None else class_count
    if tweak:
        tweak(f)
    d = (u32(f["ring_capacity"]) + u32(f["return_capacity"]) + u16(f["max_peers"]) +
         u16(f["class_count"]) + u32(reserved) + b"".join(u64(f[w]) for w in LAYOUT_WORDS))
    d += b"".join(u32(size) + u32(count) for size, count in classes)
    d += unused_classes
    d = d.ljust(152, b"\0")[:152]
    assert len(d) == 152
    return d, f["region_size"]


FUZZ_HUB = (1, 8, [(64, 4), (256, 2), (1024, 1)])
TINY = (1, 2, [(64, 1)])
EIGHT = (3, 4, [(64 * (i + 1), 1) for i in range(8)])
DEFAULT = (64, 256, [(1024, 64), (16384, 16), (262144, 4), (1048576, 4)])


def region_layout_seeds():
    t = "region_layout"
    clear(t)
    own, unchecked = u8(1), u8(0)

    def size(value):
        return u8(3) + u64(value)

    for name, geometry in (("fuzz_hub", FUZZ_HUB), ("tiny", TINY), ("eight_classes", EIGHT),
                           ("default", DEFAULT)):
        d, region = layout(*geometry)
        write(t, name, d + own)
        write(t, name + "_size_unchecked", d + unchecked)
    d, region = layout(*TINY)
    write(t, "size_a_page_more", d + u8(2) + u16(1) + u8(0))
    write(t, "size_a_byte_less", d + u8(2) + u16(-1) + u8(1))
    write(t, "size_zero_is_unchecked", d + size(0))
    write(t, "size_huge", d + size(1 << 63))
    # What a cell does not read may hold anything.
    write(t, "reserved_and_unused_classes_ignored",
          layout(*TINY, reserved=0xDEADBEEF, unused_classes=u32(77) * 14)[0] + own)
    # Every stored number one off.
    for word in LAYOUT_WORDS + ("return_capacity",):
        def off_by_one(f, word=word):
            f[word] += 1
        write(t, "off_by_one_" + word, layout(*FUZZ_HUB, tweak=off_by_one)[0] + unchecked)
    # Numbers no host accepts.
    write(t, "zero_classes", layout(1, 2, [])[0] + own)
    write(t, "nine_classes", layout(*TINY, class_count=9)[0] + own)
    write(t, "classes_not_growing", layout(1, 2, [(128, 1), (128, 1)])[0] + own)
    write(t, "slot_size_not_multiple_of_64", layout(1, 2, [(100, 1)])[0] + own)
    write(t, "slot_count_zero", layout(1, 2, [(64, 0)])[0] + own)
    write(t, "ring_not_power_of_two", layout(1, 3, [(64, 1)])[0] + own)
    write(t, "ring_of_one", layout(1, 1, [(64, 1)])[0] + own)
    write(t, "max_peers_zero", layout(0, 2, [(64, 1)])[0] + own)
    write(t, "max_peers_past_limit", layout(4097, 2, [(64, 1)])[0] + own)
    write(t, "most_peers", layout(4096, 2, [(64, 1)])[0] + own)
    # max_peers x region_size against the 2^40 bytes a hub may take.
    write(t, "memory_just_fits", layout(4096, 2, [(64 << 20, 1)])[0] + own)
    write(t, "memory_too_much", layout(4096, 2, [(64 << 20, 2)])[0] + own)
    write(t, "largest_slots", layout(1, 65536, [(64 << 20, 65536)])[0] + own)


# Offsets in region_header.
MAGIC, MAJOR, MINOR, PEER_ID, INCARNATION, HOST_PID, TOKEN, NONCE, LAYOUT, NAME = \
    0, 8, 10, 12, 16, 20, 24, 32, 40, 192


def edit_byte(offset, value):
    return u8(0) + u8(offset) + u8(value)


def edit_word(offset, value):
    return u8(1) + u8(offset) + u64(value)


def nudge(index, delta):
    return u8(2) + u8(index) + struct.pack("<h", delta)


class K:  # fd_kind
    MEMFD, UNSEALABLE, READ_ONLY, TMPFILE, PIPE, DEV_NULL, DIRECTORY = range(7)


class P:  # packet
    SEND_FD, NONE, NO_FD, EXTRA_FDS, ODD_WORD, WAKE_FIRST = range(6)


def handover(preset=0, custom=b"", peer_id=3, incarnation=7, token=0x5EC2E7, name=b"fuzz-cell",
             state=1, edits=(), kind=K.MEMFD, seals=0, size=u8(0), word=u8(0),
             packet=u8(P.SEND_FD), hang_up=0):
    return (u8(preset) + custom + u16(peer_id) + u32(incarnation) + u64(token) + u64(0x1234) +
            u8(len(name)) + name + u8(state) + u8(len(edits)) + b"".join(edits) + u8(kind) +
            u8(seals) + size + word + packet + u8(hang_up))


def region_handover_seeds():
    t = "region_handover"
    clear(t)
    # Valid regions of each geometry, and of one the input describes.
    for preset, name in enumerate(("fuzz_hub", "tiny", "eight_classes", "default")):
        write(t, "valid_" + name, handover(preset))
    custom = u16(4) + u8(2) + u8(1) + u8(0) + u8(3) + u8(1) + u8(0)  # 5 peers, ring 8, 2 classes
    write(t, "valid_described", handover(4, custom))
    write(t, "valid_long_name", handover(name=b"n" * 47))
    write(t, "valid_other_minor", handover(edits=[edit_byte(MINOR, 7)]))
    write(t, "valid_more_peers", handover(edits=[nudge(1, 1)]))
    write(t, "valid_unterminated_name",
          handover(name=b"n" * 47, edits=[edit_byte(NAME + 47, ord("x"))]))
    write(t, "valid_without_seal_seal", handover(seals=4))
    # The header against the ticket.
    write(t, "bad_magic", handover(edits=[edit_byte(MAGIC + 7, ord("S"))]))
    write(t, "hub_magic", handover(edits=[edit_word(MAGIC, int.from_bytes(b"CELLHUB\0",
                                                                          "little"))]))
    write(t, "version_1", handover(edits=[edit_byte(MAJOR, 1)]))
    write(t, "version_3", handover(edits=[edit_byte(MAJOR, 3)]))
    write(t, "other_peer", handover(edits=[edit_byte(PEER_ID, 4)]))
    write(t, "stale_incarnation", handover(edits=[edit_byte(INCARNATION, 6)]))
    write(t, "bad_token", handover(edits=[edit_byte(TOKEN, 0)]))
    for state in (0, 2, 3, 4, 5):
        write(t, "entry_state_%d" % state, handover(state=state))
    # Every word of the layout nudged (0: ring and return capacity, 1: peers and classes,
    # 2..10: region size and offsets, 11..18: the slot classes).
    for index in range(19):
        write(t, "layout_word_%d_plus_one" % index, handover(edits=[nudge(index, 1)]))
    write(t, "layout_region_size_a_page_less",
          handover(edits=[nudge(2, -4096)], size=u8(1) + struct.pack("<b", -1)))
    # The memory object: its kind, seals and size.
    for kind, name in ((K.UNSEALABLE, "unsealable_memfd"), (K.READ_ONLY, "read_only_memfd"),
                       (K.TMPFILE, "tmpfile"), (K.PIPE, "pipe"), (K.DEV_NULL, "dev_null"),
                       (K.DIRECTORY, "directory")):
        write(t, "kind_" + name, handover(kind=kind))
    for bits, name in ((1, "no_shrink_seal"), (2, "no_grow_seal"), (3, "no_size_seals"),
                       (8, "write_sealed"), (16, "future_write_sealed"),
                       (32, "exec_sealed_so_write_sealed")):
        write(t, "seals_" + name, handover(seals=bits))
    write(t, "size_a_page_more", handover(size=u8(1) + struct.pack("<b", 1)))
    write(t, "size_a_page_less", handover(size=u8(1) + struct.pack("<b", -1)))
    write(t, "size_a_byte_more", handover(size=u8(2) + struct.pack("<b", 1)))
    for value in (0, 100, 255, 256, 4096):
        write(t, "size_%d" % value, handover(size=u8(3) + u16(value)))
    # The word sent with the descriptor.
    write(t, "word_a_byte_more", handover(word=u8(1) + struct.pack("<b", 1)))
    write(t, "word_a_byte_less", handover(word=u8(1) + struct.pack("<b", -1)))
    write(t, "word_huge", handover(word=u8(2) + u64(1 << 63)))
    write(t, "word_and_size_zero", handover(size=u8(3) + u16(0), word=u8(0)))
    # The packet.
    write(t, "no_packet", handover(packet=u8(P.NONE)))
    write(t, "no_packet_host_gone", handover(packet=u8(P.NONE), hang_up=1))
    write(t, "packet_without_fd", handover(packet=u8(P.NO_FD) + u8(8)))
    write(t, "empty_packet_without_fd", handover(packet=u8(P.NO_FD) + u8(0)))
    write(t, "empty_packet_without_fd_host_gone", handover(packet=u8(P.NO_FD) + u8(0), hang_up=1))
    write(t, "three_extra_fds", handover(packet=u8(P.EXTRA_FDS) + u8(3)))
    write(t, "four_extra_fds", handover(packet=u8(P.EXTRA_FDS) + u8(4)))
    write(t, "seven_extra_fds", handover(packet=u8(P.EXTRA_FDS) + u8(7)))
    for length in (0, 4, 7, 9, 16):
        write(t, "word_of_%d_bytes" % length, handover(packet=u8(P.ODD_WORD) + u8(length)))
    write(t, "wake_up_first", handover(packet=u8(P.WAKE_FIRST)))
    write(t, "host_gone_after_handover", handover(hang_up=1))
    write(t, "host_gone_and_bad_token", handover(hang_up=1, edits=[edit_byte(TOKEN, 0)]))


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
    region_layout_seeds()
    region_handover_seeds()
    config_loader_seeds()
