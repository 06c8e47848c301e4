# ctest fixture: exports the int8 test model (the seeded DenseNet-121 file
# FP32 of export_if_missing.cmake, quantized by export_model.py --quantize
# int8 --fp32-model on the shared photos: seconds, where rebuilding the seeded
# weights takes a minute) unless it is already there, plus a copy whose
# metadata names a quantized engine no libtorch has, for the shim's refusal test.
if(EXISTS "${OUT}" AND EXISTS "${BAD_ENGINE_OUT}")
  message(STATUS "int8 model present: ${OUT}")
  return()
endif()
foreach(file "${OUT}" "${BAD_ENGINE_OUT}")
  get_filename_component(dir "${file}" DIRECTORY)
  file(MAKE_DIRECTORY "${dir}")
endforeach()
set(calib_args)
if(EXISTS "${CALIB}")
  set(calib_args --calib-dir "${CALIB}")
endif()
execute_process(COMMAND "${PYTHON}" "${SCRIPT}" --quantize int8 --fp32-model "${FP32}" --quant-samples 8 --no-synthetic-check
                        --out "${OUT}" ${calib_args}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "exporting the int8 model failed (${rc})")
endif()
execute_process(COMMAND "${PYTHON}" -c "
import json, sys, torch
sys.path.insert(0, sys.argv[3])
import reference
reference.select_quantized_engine(sys.argv[1])
extra = {'inferd_meta.json': ''}
m = torch.jit.load(sys.argv[1], _extra_files=extra)
meta = json.loads(extra['inferd_meta.json'])
meta['quantized_engine'] = 'nosuchengine'
torch.jit.save(m, sys.argv[2], _extra_files={'inferd_meta.json': json.dumps(meta, sort_keys=True)})
" "${OUT}" "${BAD_ENGINE_OUT}" "${SCRIPTS}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "writing the bad-engine int8 model failed (${rc})")
endif()
