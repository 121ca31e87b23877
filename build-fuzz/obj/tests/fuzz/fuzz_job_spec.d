build-fuzz/obj/tests/fuzz/fuzz_job_spec.o: tests/fuzz/fuzz_job_spec.c \
  common/job.h common/criteria.h common/err.h common/iotests.h

common/job.h:

common/criteria.h:

common/err.h:

common/iotests.h:
