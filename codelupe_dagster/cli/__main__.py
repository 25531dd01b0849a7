from codelupe_dagster.cli import main

main()
