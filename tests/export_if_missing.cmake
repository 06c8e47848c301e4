# ctest fixture: exports the seeded test model unless it is already there.
# EXTRA: more export_model.py arguments, ';'-separated (e.g. --arch;efficientnet_b0).
if(EXISTS "${OUT}")
  message(STATUS "seeded model present: ${OUT}")
  return()
endif()
get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
set(calib_args)
if(EXISTS "${CALIB}")
  set(calib_args --calib-dir "${CALIB}")
endif()
execute_process(COMMAND "${PYTHON}" "${SCRIPT}" --weights seeded --seed 0 --out "${OUT}" ${calib_args} ${EXTRA}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "exporting the seeded model failed (${rc})")
endif()
