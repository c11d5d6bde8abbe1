from memscope.main import main

main()
