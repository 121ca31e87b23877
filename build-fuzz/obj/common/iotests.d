build-fuzz/obj/common/iotests.o: common/iotests.c common/iotests.h \
  common/err.h common/buf.h common/json.h

common/iotests.h:

common/err.h:

common/buf.h:

common/json.h:
