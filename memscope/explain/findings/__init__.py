"""One module per finding (or a few closely related ones). Each rule is a pure function
``rule(docs: Docs) -> list of findings``; its docstring states the rule, its threshold and
the threshold's source."""
