file(REMOVE_RECURSE
  "CMakeFiles/test_treecache.dir/tests/unit/test_treecache.c.o"
  "CMakeFiles/test_treecache.dir/tests/unit/test_treecache.c.o.d"
  "CMakeFiles/test_treecache.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_treecache.dir/tests/unit/testutil.c.o.d"
  "test_treecache"
  "test_treecache.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_treecache.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
