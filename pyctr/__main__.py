from pyctr.cli.fast import main

main()
