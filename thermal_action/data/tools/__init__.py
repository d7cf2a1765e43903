"""Dataset tools: build (raw annotations + recordings -> dataset), splits, validate,
stats and the realism report; one module per tool, each a plain library function behind a
``thermal-action data`` verb."""
