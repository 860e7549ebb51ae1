package org.sparkdl.transformers

import java.io.ByteArrayOutputStream
import java.nio.{ByteBuffer, ByteOrder}

/**
 * Tiny TensorFlow GraphDefs built by the tests themselves, protobuf-encoded by hand (field
 * numbers from tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape}.proto).
 */
object TinyGraphs {
  val DtFloat = 1
  val DtInt32 = 3

  private class Msg {
    val out = new ByteArrayOutputStream()
    def varint(v0: Long): Unit = {
      var v = v0
      while ((v & ~0x7fL) != 0) { out.write(((v & 0x7f) | 0x80).toInt); v >>>= 7 }
      out.write(v.toInt)
    }
    def tag(field: Int, wire: Int): Unit = varint((field << 3 | wire).toLong)
    def int(field: Int, v: Long): this.type = { tag(field, 0); varint(v); this }
    def bytes(field: Int, b: Array[Byte]): this.type = { tag(field, 2); varint(b.length.toLong); out.write(b); this }
    def string(field: Int, s: String): this.type = bytes(field, s.getBytes("UTF-8"))
    def msg(field: Int, m: Msg): this.type = bytes(field, m.out.toByteArray)
    def toBytes: Array[Byte] = out.toByteArray
  }

  private def shape(dims: Seq[Long]): Msg = {
    val m = new Msg
    dims.foreach(d => m.msg(2, new Msg().int(1, d)))
    m
  }

  private def attrType(dt: Int): Msg = new Msg().int(6, dt.toLong)
  private def attrShape(dims: Seq[Long]): Msg = new Msg().msg(7, shape(dims))
  private def attrTensor(t: Msg): Msg = new Msg().msg(8, t)
  private def attrBool(b: Boolean): Msg = new Msg().int(5, if (b) 1L else 0L)

  private def floatTensor(dims: Seq[Long], values: Seq[Float]): Msg = {
    val buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN)
    values.foreach(buf.putFloat)
    new Msg().int(1, DtFloat.toLong).msg(2, shape(dims)).bytes(4, buf.array())
  }

  private def intTensor(dims: Seq[Long], values: Seq[Int]): Msg = {
    val buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN)
    values.foreach(buf.putInt)
    new Msg().int(1, DtInt32.toLong).msg(2, shape(dims)).bytes(4, buf.array())
  }

  private def node(name: String, op: String, inputs: Seq[String], attrs: (String, Msg)*): Msg = {
    val m = new Msg().string(1, name).string(2, op)
    inputs.foreach(i => m.string(3, i))
    attrs.foreach { case (k, v) => m.msg(5, new Msg().string(1, k).msg(2, v)) }
    m
  }

  private def graph(nodes: Msg*): Array[Byte] = {
    val g = new Msg
    nodes.foreach(n => g.msg(1, n))
    g.msg(4, new Msg().int(1, 1700))
    g.toBytes
  }

  /** y = x . W with x: float (batch, 3) and W (3, 2) below. */
  val W: Seq[Seq[Float]] = Seq(Seq(1f, -1f), Seq(0.5f, 2f), Seq(-2f, 0.25f))

  def matMul: Array[Byte] = graph(
    node("x", "Placeholder", Nil, "dtype" -> attrType(DtFloat), "shape" -> attrShape(Seq(-1, 3))),
    node("w", "Const", Nil, "dtype" -> attrType(DtFloat), "value" -> attrTensor(floatTensor(Seq(3, 2), W.flatten))),
    node("y", "MatMul", Seq("x", "w"), "T" -> attrType(DtFloat),
      "transpose_a" -> attrBool(false), "transpose_b" -> attrBool(false)))

  /** Per-channel mean of images: x float (batch, h, w, 3) -> y (batch, 3); h, w fixed or -1. */
  def channelMean(h: Long, w: Long): Array[Byte] = graph(
    node("x", "Placeholder", Nil, "dtype" -> attrType(DtFloat), "shape" -> attrShape(Seq(-1, h, w, 3))),
    node("axes", "Const", Nil, "dtype" -> attrType(DtInt32), "value" -> attrTensor(intTensor(Seq(2), Seq(1, 2)))),
    node("y", "Mean", Seq("x", "axes"), "T" -> attrType(DtFloat), "Tidx" -> attrType(DtInt32),
      "keep_dims" -> attrBool(false)))

  /** Image to image: y = x * 0.5, x float (batch, h, w, 3). */
  def halve(h: Long, w: Long): Array[Byte] = graph(
    node("x", "Placeholder", Nil, "dtype" -> attrType(DtFloat), "shape" -> attrShape(Seq(-1, h, w, 3))),
    node("half", "Const", Nil, "dtype" -> attrType(DtFloat), "value" -> attrTensor(floatTensor(Seq(), Seq(0.5f)))),
    node("y", "Mul", Seq("x", "half"), "T" -> attrType(DtFloat)))

  /**
   * The announcement's resize graph: `sparkdl_image_input` float (batch, ?, ?, 3) (as
   * `utils.imageInputPlaceholder()` makes it) resized to (h, w) by `resize/ResizeBilinear`.
   */
  def resize(h: Int, w: Int): Array[Byte] = graph(
    node("sparkdl_image_input", "Placeholder", Nil, "dtype" -> attrType(DtFloat),
      "shape" -> attrShape(Seq(-1, -1, -1, 3))),
    node("resize/size", "Const", Nil, "dtype" -> attrType(DtInt32),
      "value" -> attrTensor(intTensor(Seq(2), Seq(h, w)))),
    node("resize/ResizeBilinear", "ResizeBilinear", Seq("sparkdl_image_input", "resize/size"),
      "T" -> attrType(DtFloat), "align_corners" -> attrBool(false), "half_pixel_centers" -> attrBool(true)))

  /** y = CheckNumerics(x), x float (batch, 3): TensorFlow rejects a batch holding NaN or inf. */
  def checkNumerics: Array[Byte] = graph(
    node("x", "Placeholder", Nil, "dtype" -> attrType(DtFloat), "shape" -> attrShape(Seq(-1, 3))),
    node("y", "CheckNumerics", Seq("x"), "T" -> attrType(DtFloat),
      "message" -> new Msg().bytes(2, "not finite".getBytes("UTF-8"))))

  /** y = x + v with v a TF1 variable never initialised: every run fails (FAILED_PRECONDITION). */
  def uninitialized: Array[Byte] = graph(
    node("x", "Placeholder", Nil, "dtype" -> attrType(DtFloat), "shape" -> attrShape(Seq(-1, 3))),
    node("v", "VariableV2", Nil, "dtype" -> attrType(DtFloat), "shape" -> attrShape(Seq(3))),
    node("y", "Add", Seq("x", "v"), "T" -> attrType(DtFloat)))
}
