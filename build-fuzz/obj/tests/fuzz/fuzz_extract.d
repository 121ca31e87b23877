build-fuzz/obj/tests/fuzz/fuzz_extract.o: tests/fuzz/fuzz_extract.c \
  model/extract.h common/err.h

model/extract.h:

common/err.h:
