from cairn.cli.entry import run

run()
