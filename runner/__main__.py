from runner.cli import app

app(prog_name="predicto")
