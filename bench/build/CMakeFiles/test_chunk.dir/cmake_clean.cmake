file(REMOVE_RECURSE
  "CMakeFiles/test_chunk.dir/tests/unit/test_chunk.c.o"
  "CMakeFiles/test_chunk.dir/tests/unit/test_chunk.c.o.d"
  "CMakeFiles/test_chunk.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_chunk.dir/tests/unit/testutil.c.o.d"
  "test_chunk"
  "test_chunk.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_chunk.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
