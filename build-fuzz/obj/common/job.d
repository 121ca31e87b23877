build-fuzz/obj/common/job.o: common/job.c common/job.h common/criteria.h \
  common/err.h common/iotests.h common/buf.h common/json.h \
  common/json_strict.h

common/job.h:

common/criteria.h:

common/err.h:

common/iotests.h:

common/buf.h:

common/json.h:

common/json_strict.h:
