"""Answers from a trace: Go's own analyses over the ordered event table.

The per-event passes are C (``fastrace._analysis``); the modules here turn
their tables into what people read.
"""
