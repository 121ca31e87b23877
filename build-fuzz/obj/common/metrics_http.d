build-fuzz/obj/common/metrics_http.o: common/metrics_http.c \
  common/metrics.h common/buf.h common/err.h common/log.h

common/metrics.h:

common/buf.h:

common/err.h:

common/log.h:
