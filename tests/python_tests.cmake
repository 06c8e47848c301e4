# Tests that hold the C server against the Python reference (PIL +
# torchvision + the same TorchScript file). They share one seeded model,
# exported once by the fixture below (offline and deterministic).
find_program(INFERD_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
set(INFERD_TEST_MODEL "${CMAKE_BINARY_DIR}/test-model/densenet121-seeded0.pt" CACHE FILEPATH
    "seeded model the tests use (exported when missing)")
set(INFERD_SHARED_DATA "${CMAKE_SOURCE_DIR}/../shared/data" CACHE PATH "the shared test photos")

add_test(NAME export_seeded_model
         COMMAND ${CMAKE_COMMAND} -DPYTHON=${INFERD_PYTHON} -DSCRIPT=${CMAKE_SOURCE_DIR}/scripts/export_model.py
                 -DOUT=${INFERD_TEST_MODEL} -DCALIB=${INFERD_SHARED_DATA}
                 -P ${CMAKE_SOURCE_DIR}/tests/export_if_missing.cmake)
set_tests_properties(export_seeded_model PROPERTIES FIXTURES_SETUP seeded_model TIMEOUT 600)

# The shim with the real (seeded) model: concurrent forwards on one shared
# module equal sequential ones bit for bit.
add_test(NAME unit_model COMMAND test_model ${INFERD_TEST_MODEL})
set_tests_properties(unit_model PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 300)

add_test(NAME parity_reference
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/parity_test.py
                 --parity-tool $<TARGET_FILE:parity_tool> --model ${INFERD_TEST_MODEL}
                 --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(parity_reference PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900)

# EXIF orientation 1-8 in each format that carries it, exif_orientation off
# and on, against PIL's Image.open and ImageOps.exif_transpose.
add_test(NAME parity_exif_orientation
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/exif_test.py --parity-tool $<TARGET_FILE:parity_tool>)
set_tests_properties(parity_exif_orientation PROPERTIES TIMEOUT 300)

add_test(NAME integration_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/integration_test.py
                 --binary $<TARGET_FILE:inferd> --model ${INFERD_TEST_MODEL}
                 --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(integration_server PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900)

add_test(NAME valgrind_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/valgrind_test.py --binary $<TARGET_FILE:inferd_stub>
                 --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(valgrind_server PROPERTIES TIMEOUT 900 LABELS "valgrind")

# Overload without collapse (issue 16): admission before the body, deadlines,
# cancelled clients. Timing-sensitive, so serial.
add_test(NAME overload_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/overload_test.py
                 --binary $<TARGET_FILE:inferd> --model ${INFERD_TEST_MODEL}
                 --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(overload_server PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900 RUN_SERIAL TRUE
                     LABELS "server")
