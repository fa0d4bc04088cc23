"""The command line: the parser, one function per command, file prediction."""
