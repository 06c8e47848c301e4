# Hardening, API and (quick) soak tests of the real server: issues 4 and 5.
# Included from the top CMakeLists after tests/python_tests.cmake, whose
# INFERD_PYTHON, INFERD_TEST_MODEL, INFERD_SHARED_DATA and seeded_model
# fixture they use. They start their own servers on free loopback ports and
# measure latencies (503s in < 1 s), so they run serially. The full soak
# (20000 requests) is not registered: run scripts/soak.sh by hand.
set(INFERD_SERVER_TEST_ARGS
    --binary $<TARGET_FILE:inferd> --model ${INFERD_TEST_MODEL}
    --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})

add_test(NAME hardening_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/hardening_test.py ${INFERD_SERVER_TEST_ARGS})
set_tests_properties(hardening_server PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900 RUN_SERIAL TRUE
                     LABELS "server")

# Issue 13's formats through POST /, KServe and the CLI against the reference;
# exif_orientation on a second server.
add_test(NAME formats_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/formats_server_test.py ${INFERD_SERVER_TEST_ARGS}
                 --cli $<TARGET_FILE:inferd-classify>)
set_tests_properties(formats_server PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900 RUN_SERIAL TRUE
                     LABELS "server")

add_test(NAME api_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/api_test.py ${INFERD_SERVER_TEST_ARGS}
                 --model-int8 ${INFERD_TEST_MODEL_INT8})
set_tests_properties(api_server PROPERTIES FIXTURES_REQUIRED "seeded_model;int8_model" TIMEOUT 900 RUN_SERIAL TRUE
                     LABELS "server")

# The same API under a configured model name: every v2 route moves with it.
add_test(NAME api_server_named
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/api_test.py ${INFERD_SERVER_TEST_ARGS} --model-name my_classifier)
set_tests_properties(api_server_named PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900 RUN_SERIAL TRUE
                     LABELS "server")

add_test(NAME soak_quick
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/soak.py --quick ${INFERD_SERVER_TEST_ARGS})
set_tests_properties(soak_quick PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 1800 RUN_SERIAL TRUE
                     LABELS "server;soak")

# The Open Inference Protocol as Triton-style clients speak it (issue 12):
# binary tensor data both ways, the FP32 tensor input, malformed sizes,
# statistics/configuration, a configurable model name.
add_test(NAME oip_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/oip_test.py ${INFERD_SERVER_TEST_ARGS})
set_tests_properties(oip_server PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900 RUN_SERIAL TRUE
                     LABELS "server")
