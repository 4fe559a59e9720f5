"""Vietnamese word segmentation with pyvi's own CRF model: same output, much faster, with spans.

pyvi (``pyvi.ViTokenizer``) is the reference: :meth:`Segmenter.tokenize` returns exactly what
``ViTokenizer.tokenize`` returns, character for character. pyvi spends most of its time building
one Python feature dict per syllable and handing it to crfsuite; here the same features are
scored from weight tables read out of pyvi's own model file, with NumPy, many documents at a time.
Nothing is retrained: the weights are the float64 values stored in the model, added in
crfsuite's order, and the best label path is crfsuite's Viterbi (ties included), so the labels
are bit-for-bit the ones crfsuite would choose.

How each step reproduces pyvi/crfsuite:

* Syllables: pyvi's regular expression on the NFC text. Its matches never straddle whitespace,
  so each whitespace-delimited chunk is split on its own, and the common chunks (a run of
  letters and digits, with at most one punctuation mark before or after it) without the
  regular expression.
* Features: pyvi's dict per syllable becomes crfsuite attributes ``"key:value"`` (strings,
  weight x 1.0) and ``"key"`` (bools, weight x 1.0 or x 0.0). The state score of a position is
  the sum of the weights of its attributes, in the dict's insertion order, starting from 0.0.
  The five attributes that depend on the syllable alone are summed once per distinct syllable
  and cached; the neighbour attributes are added position-wise with NumPy, in the same order.
  crfsuite looks attribute names up as C strings, so a name is cut at its first NUL.
* Viterbi: crfsuite's recurrence is sequential, but with two labels only the difference between
  the labels' running scores matters, and it forgets its past within a step or two; so every
  back-pointer is computed vectorized, with its margin. crfsuite's float64 rounding is bounded
  by the sequence's length and score magnitudes; a sequence whose every choice clears that
  bound is provably labelled as crfsuite labels it, any other is decoded with crfsuite's loop
  step for step (strict ``<`` comparisons, first index wins ties).

pyvi loads its model when ``pyvi.ViTokenizer`` is imported; this package never imports it. The
model file is read from the installed pyvi package on first use, so ``import
searcher.segmentation`` stays cheap.

Modules, one job each: :mod:`.model` (pyvi's model file as weight tables, the syllable
feature cache), :mod:`.syllables` (pyvi's syllables, NFC offsets back to the text),
:mod:`.tagging` (state scores and Viterbi, plain Python and NumPy), :mod:`.segmenter` (the
:class:`Segmenter` front door).
"""

from searcher.segmentation.segmenter import Segmentation, Segmenter

__all__ = ["Segmentation", "Segmenter"]
