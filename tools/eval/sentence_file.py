"""The shared harness's sentence files: one sentence a line, optionally a tab and its accepted
spoken readings; `#` lines are comments."""


def read_sentences(path):
    """The sentences of `path`, without comments or spoken readings."""
    with open(path, encoding="utf-8") as f:
        return [line.split("\t")[0].strip() for line in f if line.strip() and not line.startswith("#")]
