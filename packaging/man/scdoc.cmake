# scdoc.cmake - one man page from its scdoc source:
#   cmake -DSCDOC=... -DSRC=x.scd -DOUT=x [-DMESHFS=...] -P scdoc.cmake
# With MESHFS, the line %COMMANDS% is replaced by `meshfs help --scdoc`,
# the usage lines of the program's own command table, so that the page
# cannot describe other commands than the program has.
file(READ ${SRC} text)
if(DEFINED MESHFS)
  execute_process(COMMAND ${MESHFS} help --scdoc OUTPUT_VARIABLE commands
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR commands STREQUAL "")
    message(FATAL_ERROR "${MESHFS} help --scdoc failed (${rc})")
  endif()
  string(FIND "${text}" "%COMMANDS%\n" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${SRC} has no %COMMANDS% line")
  endif()
  string(REPLACE "%COMMANDS%\n" "${commands}" text "${text}")
endif()
file(WRITE ${OUT}.scd "${text}")
execute_process(COMMAND ${SCDOC} INPUT_FILE ${OUT}.scd OUTPUT_FILE ${OUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT})
  message(FATAL_ERROR "scdoc failed on ${SRC}")
endif()
# Debian installs man pages compressed, reproducibly (no name, no time).
execute_process(COMMAND gzip -9n -c ${OUT} OUTPUT_FILE ${OUT}.gz RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip failed on ${OUT}")
endif()
