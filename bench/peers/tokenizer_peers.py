#!/usr/bin/env python3
"""tokenizer_peers.py -- the peers of our BPE tokenizer, for bench/bench_tokenizer.c.

  rustbpe   (PyPI `rustbpe`, the original project's trainer): training time on the same text,
            same split pattern, same vocabulary size (minus our 4 special tokens)
  tiktoken  (PyPI `tiktoken`): encoding time with OUR learned vocabulary (read from our
            vocabulary file), same pattern, same thread count

Prints "key: value" lines that the C benchmark parses. Python is only used here, for the
comparison; it is no part of the product. Packages go into a venv under build/ the first time.
If anything is missing (no venv module, no network for pip), prints "peer skipped: reason"
and exits 0.
"""
import argparse
import array
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, "build", "peers-venv")
PACKAGES = ["rustbpe", "tiktoken"]


def skip(reason):
    print(f"peer skipped: {reason}", flush=True)
    sys.exit(0)


def ensure_venv():
    """Re-runs this script under build/peers-venv, creating it and installing the peers if needed."""
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        print(f"peers: creating {VENV} (pip install {' '.join(PACKAGES)})", file=sys.stderr, flush=True)
        r = subprocess.run([sys.executable, "-m", "venv", VENV], capture_output=True, text=True)
        if r.returncode != 0:
            skip("cannot create a venv: " + (r.stderr.strip().splitlines() or ["?"])[-1])
    r = subprocess.run([py, "-c", "import rustbpe, tiktoken"], capture_output=True)
    if r.returncode != 0:
        r = subprocess.run([py, "-m", "pip", "install", "-q", *PACKAGES], capture_output=True, text=True)
        if r.returncode != 0:
            skip("pip install failed: " + (r.stderr.strip().splitlines() or ["?"])[-1])
    os.execv(py, [py, os.path.abspath(__file__), *sys.argv[1:]])


def read_docs(path, limit):
    texts, size = [], 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if limit and len(texts) >= limit:
                break
            line = line.strip()
            if not line:
                continue
            t = json.loads(line).get("text")
            if isinstance(t, str) and t:      # docs_jsonl.c drops empty documents too
                texts.append(t)
                size += len(t.encode("utf-8"))
    return texts, size


def read_our_vocab(path):
    """Our vocabulary file (fixed/tokenizer.h): returns (pattern, [token bytes for ids 0..V-5], V)."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != b"ARBPE\0\0\1" or zlib.crc32(b[:-4]) != struct.unpack("<I", b[-4:])[0]:
        raise ValueError(f"{path}: not a valid vocabulary file")
    V, nm, ns, plen = struct.unpack("<4I", b[8:24])
    pattern = b[24:24 + plen].decode("utf-8")
    toks = [bytes([i]) for i in range(256)]
    off = 24 + plen
    for i in range(nm):
        l, r = struct.unpack("<2I", b[off + 8 * i: off + 8 * i + 8])
        toks.append(toks[l] + toks[r])
    return pattern, toks, V


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a .jsonl.gz file of {\"text\": ...} documents")
    ap.add_argument("--ours", required=True, help="our vocabulary file trained on the same data")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--docs", type=int, default=0, help="use only the first N documents (0: all)")
    ap.add_argument("--skip-train", action="store_true", help="tiktoken only")
    a = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)   # rustbpe's thread pool; before import
    ensure_venv()
    try:
        import rustbpe
        import tiktoken
    except ImportError as e:
        skip(f"cannot import peers: {e}")

    pattern, toks, V = read_our_vocab(a.ours)
    texts, size = read_docs(a.data, a.docs)
    print(f"peer_docs: {len(texts)}")
    print(f"peer_bytes: {size}")
    bos = V - 4

    # rustbpe training (includes its pre-tokenization, exactly as nanochat calls it)
    if not a.skip_train:
        tok = rustbpe.Tokenizer()
        t0, c0 = time.perf_counter(), time.process_time()
        tok.train_from_iterator(iter(texts), V - 4, pattern=pattern)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        print(f"rustbpe_train_s: {dt:.3f}")
        print(f"rustbpe_train_cpu_s: {dc:.3f}")
        theirs = [bytes(k) for k, _ in sorted(tok.get_mergeable_ranks(), key=lambda kv: kv[1])]
        same = 0
        while same < min(len(theirs), len(toks)) and theirs[same] == toks[same]:
            same += 1
        print(f"rustbpe_same_tokens: {same - 256} of {len(toks) - 256} merges identical (in order)")
        print(f"rustbpe_same_set: {len(set(theirs[256:]) & set(toks[256:]))} of {len(toks) - 256} tokens in both vocabularies")
        sys.stdout.flush()

    # tiktoken encoding with our vocabulary
    ranks = {t: i for i, t in enumerate(toks)}
    if len(ranks) != len(toks):
        skip("our vocabulary has tokens with equal bytes; tiktoken needs them unique")
    enc = tiktoken.Encoding(name="ours", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    t0, c0 = time.perf_counter(), time.process_time()
    out = enc.encode_ordinary_batch(texts, num_threads=a.threads)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print(f"tiktoken_encode_s: {dt:.3f}")
    print(f"tiktoken_encode_cpu_s: {dc:.3f}")
    ids = array.array("H")
    for o in out:
        ids.append(bos)
        ids.extend(o)
    if sys.byteorder != "little":
        ids.byteswap()
    print(f"tiktoken_tokens: {len(ids)}")
    print(f"tiktoken_ids_sha256: {hashlib.sha256(ids.tobytes()).hexdigest()}")


if __name__ == "__main__":
    main()
