"""Voice messages: speech to text (`_transcribe.py`: audio decoding, the Whisper backends) and
the phrase model that picks among Whisper's guesses (`_phrase_model.py`).

Kept empty on purpose: the `Assistant` loads the phrase model at start-up and the transcriber
only when voice is used, so importing one must not import the other.
"""
