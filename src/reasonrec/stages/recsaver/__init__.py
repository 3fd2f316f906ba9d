"""Rec-SAVER's stages (Tsai et al.): explanations → scrub + self-verify → teacher paths + filters → zero-shot."""
