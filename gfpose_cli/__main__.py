from gfpose_cli.cli import main

main()
