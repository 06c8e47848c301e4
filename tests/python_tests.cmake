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

# int8 (issue 14): the same seeded model quantized by export_model.py
# --quantize int8, and the shim's int8 contract (tests/test_model_int8.c).
set(INFERD_TEST_MODEL_INT8 "${CMAKE_BINARY_DIR}/test-model/densenet121-seeded0-int8.pt" CACHE FILEPATH
    "int8 model the tests use (exported when missing)")
add_test(NAME export_int8_model
         COMMAND ${CMAKE_COMMAND} -DPYTHON=${INFERD_PYTHON} -DSCRIPT=${CMAKE_SOURCE_DIR}/scripts/export_model.py
                 -DSCRIPTS=${CMAKE_SOURCE_DIR}/scripts -DFP32=${INFERD_TEST_MODEL} -DOUT=${INFERD_TEST_MODEL_INT8}
                 -DBAD_ENGINE_OUT=${CMAKE_BINARY_DIR}/test-model/int8-bad-engine.pt -DCALIB=${INFERD_SHARED_DATA}
                 -P ${CMAKE_SOURCE_DIR}/tests/export_int8_if_missing.cmake)
set_tests_properties(export_int8_model PROPERTIES FIXTURES_SETUP int8_model FIXTURES_REQUIRED seeded_model
                     TIMEOUT 600)
add_executable(test_model_int8 ${CMAKE_SOURCE_DIR}/tests/test_model_int8.c)
target_compile_options(test_model_int8 PRIVATE ${INFERD_C_WARNINGS})
target_link_libraries(test_model_int8 PRIVATE inferd_core)
set_target_properties(test_model_int8 PROPERTIES LINKER_LANGUAGE CXX)
add_test(NAME unit_model_int8
         COMMAND test_model_int8 ${INFERD_TEST_MODEL_INT8} ${CMAKE_BINARY_DIR}/test-model/int8-bad-engine.pt
                 ${INFERD_TEST_MODEL} ${INFERD_SHARED_DATA}/dog.jpg ${INFERD_SHARED_DATA}/giraffe.jpg
                 ${INFERD_SHARED_DATA}/lion.jpg ${INFERD_SHARED_DATA}/monkey.jpg)
set_tests_properties(unit_model_int8 PROPERTIES FIXTURES_REQUIRED "seeded_model;int8_model" TIMEOUT 300)

add_test(NAME parity_reference
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/parity_test.py
                 --parity-tool $<TARGET_FILE:parity_tool> --model ${INFERD_TEST_MODEL}
                 --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(parity_reference PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900)

add_test(NAME integration_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/integration_test.py
                 --binary $<TARGET_FILE:inferd> --model ${INFERD_TEST_MODEL}
                 --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(integration_server PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900)

# The same functional test against the int8 export (the server's precision
# from the environment, as a deployment would set it): answers and top-5
# equal the Python reference running the same int8 file.
add_test(NAME integration_server_int8
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/integration_test.py
                 --binary $<TARGET_FILE:inferd> --model ${INFERD_TEST_MODEL_INT8}
                 --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(integration_server_int8 PROPERTIES FIXTURES_REQUIRED int8_model TIMEOUT 900
                     ENVIRONMENT INFERD_PRECISION=int8)

add_test(NAME valgrind_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/valgrind_test.py --binary $<TARGET_FILE:inferd_stub>
                 --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(valgrind_server PROPERTIES TIMEOUT 900 LABELS "valgrind")
