"""urial from Python: a pure-Python ctypes binding of build/liburial.so (no third-party packages).

    import urial
    m = urial.Model("models/base.gguf")
    ids = m.tokenize("Hello world")                 # [1, ...]  (BOS as the vocabulary asks)
    lg = m.logits(ids)                              # numpy array (n, n_vocab) if numpy is installed, else lists
    text = m.generate("The capital of France is", max_tokens=16)             # as `urial generate`
    answer = m.generate("What is urial?", urial="urial-k3", max_tokens=64)   # as `urial generate --urial urial-k3`
    prompt = urial.render("urial-k3", "What is urial?")                     # as `urial prompt`
    shift = urial.tds(base, aligned, prompt_base, prompt_aligned, answer)    # TDS of one answer (dict)

The library is found at $URIAL_LIB, else build/liburial.so next to this source tree, else on the
system's library path. Errors raise urial.Error with urial's one-line message.
"""
import ctypes
import ctypes.util
import json
import os

__all__ = ["Error", "Model", "render", "tds", "library_path"]

_ERRN = 1024


class Error(RuntimeError):
    """A urial error: the library's one-line message (file or input, and what is wrong)."""


def library_path():
    env = os.environ.get("URIAL_LIB")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.join(here, "..", "..", "build", "liburial.so")
    if os.path.exists(tree):
        return os.path.normpath(tree)
    found = ctypes.util.find_library("urial")
    if found:
        return found
    raise Error("liburial.so not found: build it with `make` (build/liburial.so) or set URIAL_LIB")


def _load():
    lib = ctypes.CDLL(library_path())
    P, I, F, S = ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.c_char_p
    I32P, F32P = ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_float)
    sig = {
        "urial_model_load": (P, [S, S, I]),
        "urial_model_free": (None, [P]),
        "urial_n_vocab": (I, [P]),
        "urial_tokenize": (I, [P, S, I, I, I32P, I, S, I]),
        "urial_logits": (I, [P, I32P, I, I, F32P, S, I]),
        "urial_generate": (P, [P, S, S, I, F, I, F, F, ctypes.c_uint64, I, I, S, I]),
        "urial_render_query": (P, [S, S, S, I]),
        "urial_tds": (P, [P, P, S, S, S, I, S, I]),
        "urial_free": (None, [P]),
        "urial_version": (S, []),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


_lib = None


def _L():
    global _lib
    if _lib is None:
        _lib = _load()
    return _lib


def _b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


def _take_string(ptr, err):
    if not ptr:
        raise Error(err.value.decode("utf-8", "replace"))
    try:
        return ctypes.string_at(ptr).decode("utf-8", "replace")
    finally:
        _L().urial_free(ptr)


class Model:
    """A GGUF model loaded by urial (memory-mapped). threads: 0 = all cores."""

    def __init__(self, path, threads=0):
        err = ctypes.create_string_buffer(_ERRN)
        self._m = _L().urial_model_load(_b(os.fspath(path)), err, _ERRN)
        if not self._m:
            raise Error(err.value.decode("utf-8", "replace"))
        self.path = os.fspath(path)
        self.threads = threads
        self.n_vocab = _L().urial_n_vocab(self._m)

    def close(self):
        if getattr(self, "_m", None):
            _L().urial_model_free(self._m)
            self._m = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def tokenize(self, text, add_bos=True, special=False):
        """Token ids of text, as `urial tokenize` (BOS when add_bos and the vocabulary asks for it)."""
        err = ctypes.create_string_buffer(_ERRN)
        cap = len(_b(text)) + 8
        while True:
            buf = (ctypes.c_int32 * cap)()
            n = _L().urial_tokenize(self._m, _b(text), int(add_bos), int(special), buf, cap, err, _ERRN)
            if n < 0:
                raise Error(err.value.decode("utf-8", "replace"))
            if n <= cap:
                return list(buf[:n])
            cap = n

    def logits(self, tokens):
        """Teacher-forced next-token logits at every position: (len(tokens), n_vocab), as `urial logits`.
        A float32 numpy array when numpy is installed, else a list of lists."""
        n = len(tokens)
        if n == 0:
            raise Error("logits: no tokens")
        ids = (ctypes.c_int32 * n)(*tokens)
        out = (ctypes.c_float * (n * self.n_vocab))()
        err = ctypes.create_string_buffer(_ERRN)
        if _L().urial_logits(self._m, ids, n, self.threads, out, err, _ERRN):
            raise Error(err.value.decode("utf-8", "replace"))
        try:
            import numpy
        except ImportError:
            flat = list(out)
            return [flat[i * self.n_vocab : (i + 1) * self.n_vocab] for i in range(n)]
        return numpy.ctypeslib.as_array(out).reshape(n, self.n_vocab).copy()

    def generate(self, prompt, max_tokens=256, temp=0.0, top_k=0, top_p=1.0, repeat_penalty=0.0, seed=0, urial=None,
                 ctx=0):
        """Continue prompt (greedy by default), as `urial generate`; urial="urial-k3" (a built-in prompt
        name or a file) renders prompt as a query with that URIAL prompt, as `urial generate --urial`.
        repeat_penalty 0: the default (1.1 with a URIAL prompt, else off). ctx: the context length
        (0: the model's, at most 4096, as --ctx)."""
        err = ctypes.create_string_buffer(_ERRN)
        p = _L().urial_generate(self._m, _b(prompt), _b(urial) if urial else None, int(max_tokens), float(temp),
                                int(top_k), float(top_p), float(repeat_penalty), int(seed), int(ctx), self.threads, err,
                                _ERRN)
        return _take_string(p, err)


def render(urial_prompt, query):
    """The prompt text a URIAL prompt (built-in name such as "urial-k3", or a file) gives for one query."""
    err = ctypes.create_string_buffer(_ERRN)
    return _take_string(_L().urial_render_query(_b(urial_prompt), _b(query), err, _ERRN), err)


def tds(base, aligned, prompt_base, prompt_aligned, answer, threads=0):
    """Token distribution shift of one answer: the base model reads prompt_base + answer, the aligned
    model prompt_aligned + answer. A dict: tokens, unshifted, marginal, shifted, and per position
    pos, token, text, rank (the base's rank of the aligned model's top token), class, p_base,
    p_align, kl (KL(aligned || base), nats), base_top (the base's top 3 ids)."""
    err = ctypes.create_string_buffer(_ERRN)
    p = _L().urial_tds(base._m, aligned._m, _b(prompt_base), _b(prompt_aligned), _b(answer), int(threads), err, _ERRN)
    return json.loads(_take_string(p, err))
