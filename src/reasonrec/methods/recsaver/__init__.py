"""Rec-SAVER (Tsai et al.): the recipe (stages composed) and the paper's reproduction protocol."""
