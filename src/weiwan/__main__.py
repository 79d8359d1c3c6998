from weiwan.cli import app

app()
