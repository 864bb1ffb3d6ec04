from endcap.cli import main

main()
