from crosstune.cli import main

main()
