"""The calibrated hybrid: a stacking model over the student's log-odds, CF scores and leak-free statistics."""
