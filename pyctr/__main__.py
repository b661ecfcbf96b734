from pyctr.cli.main import main

main()
