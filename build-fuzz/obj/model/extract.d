build-fuzz/obj/model/extract.o: model/extract.c model/extract.h \
  common/err.h common/buf.h

model/extract.h:

common/err.h:

common/buf.h:
