package org.sparkdl.image

import java.awt.image.BufferedImage
import java.io.File
import java.nio.file.{Files, Path}
import javax.imageio.ImageIO

/** Small images written by the tests themselves, plus broken files. */
object TestImages {

  private def fill(img: BufferedImage, seed: Int): BufferedImage = {
    val rnd = new scala.util.Random(seed)
    for (y <- 0 until img.getHeight; x <- 0 until img.getWidth) {
      val a = if (img.getColorModel.hasAlpha) rnd.nextInt(256) else 255
      val rgb = (a << 24) | ((x * 7 + y) & 0xff) << 16 | ((y * 5) & 0xff) << 8 | rnd.nextInt(256)
      img.setRGB(x, y, rgb)
    }
    img
  }

  private def write(img: BufferedImage, format: String, file: File): File = {
    require(ImageIO.write(img, format, file), s"no ImageIO writer for $format")
    file
  }

  /** Writes the lossless images (compared exactly with Spark's reader). */
  def writeLossless(dir: Path): Seq[File] = Seq(
    write(fill(new BufferedImage(13, 7, BufferedImage.TYPE_3BYTE_BGR), 1), "png", dir.resolve("rgb.png").toFile),
    write(fill(new BufferedImage(9, 11, BufferedImage.TYPE_BYTE_GRAY), 2), "png", dir.resolve("grey.png").toFile),
    write(fill(new BufferedImage(8, 5, BufferedImage.TYPE_4BYTE_ABGR), 3), "png", dir.resolve("rgba.png").toFile),
    write(fill(new BufferedImage(10, 6, BufferedImage.TYPE_3BYTE_BGR), 4), "bmp", dir.resolve("bgr.bmp").toFile))

  /** A smooth JPEG (so decoders agree closely). */
  def writeJpeg(dir: Path, name: String = "photo.jpg"): File = {
    val img = new BufferedImage(64, 48, BufferedImage.TYPE_3BYTE_BGR)
    for (y <- 0 until 48; x <- 0 until 64) {
      img.setRGB(x, y, (x * 4) << 16 | (y * 5) << 8 | ((x + y) * 2))
    }
    write(img, "jpg", dir.resolve(name).toFile)
  }

  /** Broken files: each must give a row with a null image and a reason. */
  def writeBroken(dir: Path): Seq[File] = {
    val empty = dir.resolve("empty.jpg")
    Files.write(empty, Array.emptyByteArray)
    val text = dir.resolve("notes.jpg")
    Files.write(text, "these are not pixels".getBytes("UTF-8"))
    val jpeg = Files.readAllBytes(writeJpeg(dir, "whole.jpg").toPath)
    Files.delete(dir.resolve("whole.jpg"))
    val truncated = dir.resolve("truncated.jpg")
    Files.write(truncated, jpeg.take(jpeg.length / 2))
    Seq(empty.toFile, text.toFile, truncated.toFile)
  }
}
