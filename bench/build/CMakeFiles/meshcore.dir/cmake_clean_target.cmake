file(REMOVE_RECURSE
  "libmeshcore.a"
)
