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
set_tests_properties(parity_reference PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 2400)

# EXIF orientation 1-8 in each format that carries it, exif_orientation off
# and on, against PIL's Image.open and ImageOps.exif_transpose.
add_test(NAME parity_exif_orientation
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/exif_test.py --parity-tool $<TARGET_FILE:parity_tool>)
set_tests_properties(parity_exif_orientation PROPERTIES TIMEOUT 900)

add_test(NAME integration_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/integration_test.py
                 --binary $<TARGET_FILE:inferd> --model ${INFERD_TEST_MODEL}
                 --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(integration_server PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 2400)

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

# Overload without collapse (issue 16): admission before the body, deadlines,
# cancelled clients. Timing-sensitive, so serial.
add_test(NAME overload_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/overload_test.py
                 --binary $<TARGET_FILE:inferd> --model ${INFERD_TEST_MODEL}
                 --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(overload_server PROPERTIES FIXTURES_REQUIRED seeded_model TIMEOUT 900 RUN_SERIAL TRUE
                     LABELS "server")

# More architectures with other preprocessing (issue 15): efficientnet_b0
# (bicubic Resize(256), CenterCrop(224) from its weights' transforms()) and
# resnet18 with Resize([256, 320]) and a non-square CenterCrop([224, 288]).
# Each seeded export takes well under a minute.
set(INFERD_TEST_MODEL_EFFICIENTNET "${CMAKE_BINARY_DIR}/test-model/efficientnet_b0-seeded0.pt")
set(INFERD_TEST_MODEL_NONSQUARE "${CMAKE_BINARY_DIR}/test-model/resnet18-seeded0-r256x320-c224x288.pt")
add_test(NAME export_seeded_efficientnet
         COMMAND ${CMAKE_COMMAND} -DPYTHON=${INFERD_PYTHON} -DSCRIPT=${CMAKE_SOURCE_DIR}/scripts/export_model.py
                 -DOUT=${INFERD_TEST_MODEL_EFFICIENTNET} -DCALIB=${INFERD_SHARED_DATA}
                 "-DEXTRA=--arch;efficientnet_b0;--no-synthetic-check"
                 -P ${CMAKE_SOURCE_DIR}/tests/export_if_missing.cmake)
set_tests_properties(export_seeded_efficientnet PROPERTIES FIXTURES_SETUP seeded_efficientnet TIMEOUT 600)
add_test(NAME export_seeded_nonsquare
         COMMAND ${CMAKE_COMMAND} -DPYTHON=${INFERD_PYTHON} -DSCRIPT=${CMAKE_SOURCE_DIR}/scripts/export_model.py
                 -DOUT=${INFERD_TEST_MODEL_NONSQUARE} -DCALIB=${INFERD_SHARED_DATA}
                 "-DEXTRA=--arch;resnet18;--resize;256,320;--crop;224,288;--no-synthetic-check"
                 -P ${CMAKE_SOURCE_DIR}/tests/export_if_missing.cmake)
set_tests_properties(export_seeded_nonsquare PROPERTIES FIXTURES_SETUP seeded_nonsquare TIMEOUT 600)

# The seeded EfficientNet's logits reach ~1e4 on the synthetic images, where
# libtorch's eager and oneDNN-optimized forwards differ by ~1e-4 relative:
# its logits are held (at the same 1e-3) to the server's form of the model.
add_test(NAME parity_reference_efficientnet_b0
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/parity_test.py
                 --parity-tool $<TARGET_FILE:parity_tool> --model ${INFERD_TEST_MODEL_EFFICIENTNET}
                 --shared-dir ${INFERD_SHARED_DATA} --logits-reference server)
set_tests_properties(parity_reference_efficientnet_b0 PROPERTIES FIXTURES_REQUIRED seeded_efficientnet TIMEOUT 2400)
add_test(NAME parity_reference_nonsquare
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/parity_test.py
                 --parity-tool $<TARGET_FILE:parity_tool> --model ${INFERD_TEST_MODEL_NONSQUARE}
                 --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(parity_reference_nonsquare PROPERTIES FIXTURES_REQUIRED seeded_nonsquare TIMEOUT 2400)

# A user's own 12-class model with a text label file (issue 15).
add_test(NAME user_model_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/user_model_test.py --binary $<TARGET_FILE:inferd>
                 --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(user_model_server PROPERTIES TIMEOUT 900 LABELS "server")

# Reload machinery with two real models (A efficientnet_b0, B the non-square resnet18).
add_test(NAME unit_model_slot COMMAND test_model_slot ${INFERD_TEST_MODEL_EFFICIENTNET} ${INFERD_TEST_MODEL_NONSQUARE}
         ${CMAKE_SOURCE_DIR}/imagenet_class_index.json)
set_tests_properties(unit_model_slot PROPERTIES FIXTURES_REQUIRED "seeded_efficientnet;seeded_nonsquare" TIMEOUT 600)

# Model control over HTTP (off by default, token, 409, 400, admin listener)
# and a reload under 16-connection load (issue 15).
add_test(NAME model_control_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/model_control_test.py --binary $<TARGET_FILE:inferd>
                 --model ${INFERD_TEST_MODEL_NONSQUARE} --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json
                 --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(model_control_server PROPERTIES FIXTURES_REQUIRED seeded_nonsquare TIMEOUT 900 RUN_SERIAL TRUE
                     LABELS "server")
add_test(NAME reload_server
         COMMAND ${INFERD_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reload_test.py --binary $<TARGET_FILE:inferd>
                 --model-a ${INFERD_TEST_MODEL} --model-b ${INFERD_TEST_MODEL_EFFICIENTNET}
                 --class-index ${CMAKE_SOURCE_DIR}/imagenet_class_index.json --shared-dir ${INFERD_SHARED_DATA})
set_tests_properties(reload_server PROPERTIES FIXTURES_REQUIRED "seeded_model;seeded_efficientnet" TIMEOUT 900
                     RUN_SERIAL TRUE LABELS "server")
