from fastrace.cli import run

run()
