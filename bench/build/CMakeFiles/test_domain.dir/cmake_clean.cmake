file(REMOVE_RECURSE
  "CMakeFiles/test_domain.dir/tests/unit/test_domain.c.o"
  "CMakeFiles/test_domain.dir/tests/unit/test_domain.c.o.d"
  "CMakeFiles/test_domain.dir/tests/unit/testutil.c.o"
  "CMakeFiles/test_domain.dir/tests/unit/testutil.c.o.d"
  "test_domain"
  "test_domain.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_domain.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
