build-fuzz/obj/common/metrics.o: common/metrics.c common/metrics.h \
  common/buf.h common/err.h common/log.h

common/metrics.h:

common/buf.h:

common/err.h:

common/log.h:
