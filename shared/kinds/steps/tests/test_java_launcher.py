"""Tests of java-launcher.py, run by python3 (shared/kinds' TestStepPrograms)."""
import importlib.util
import os
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("java_launcher", os.path.join(HERE, "..", "java-launcher.py"))
launcher = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launcher)

LONG = "/javaAction/.m2/repository/org/example/a-rather-long-artifact-name/1.2.3/a-rather-long-artifact-name-1.2.3.jar"


class JavaLauncherTest(unittest.TestCase):
    def run_on(self, manifest, classpath):
        """Runs the program on a jar with manifest; returns its entries."""
        with tempfile.TemporaryDirectory() as d:
            jar, listing = os.path.join(d, "launcher.jar"), os.path.join(d, "classpath.txt")
            with zipfile.ZipFile(jar, "w") as z:
                z.writestr("META-INF/MANIFEST.MF", manifest)
                z.writestr("Launcher.class", "bytecode")
            with open(listing, "w") as f:
                f.write(classpath)
            launcher.main(jar, listing)
            with zipfile.ZipFile(jar) as z:
                return {n: z.read(n).decode() for n in z.namelist()}

    def attributes(self, manifest):
        for line in manifest.split("\n"):
            self.assertLessEqual(len(line.encode()), 72, "manifest line %r" % line)
        attrs = {}
        for line in manifest.replace("\n ", "").split("\n"):
            if ": " in line:
                k, v = line.split(": ", 1)
                attrs[k] = v
        return attrs

    def test_cases(self):
        cases = [
            ("no Class-Path yet", "Manifest-Version: 1.0\r\nCreated-By: 17 (Debian)\r\n\r\n",
             "/javaAction/.m2/repository/osb/greeting/1.0.0/greeting-1.0.0.jar:" + LONG + "\n",
             ["/javaAction/.m2/repository/osb/greeting/1.0.0/greeting-1.0.0.jar", LONG]),
            ("built from a custom image", "Manifest-Version: 1.0\nCreated-By: 17 (Debian)\nClass-Path: /old/a.jar\n  /old/b.jar\n\n",
             "/old/b.jar:/new/c.jar", ["/old/a.jar", "/old/b.jar", "/new/c.jar"]),
            ("nothing to add", "Manifest-Version: 1.0\nCreated-By: 17 (Debian)\n\n", "\n", None),
            ("a long line of UTF-8", "Manifest-Version: 1.0\nCreated-By: 17 (Debian)\nImplementation-Title: " + "é" * 60 + "\n\n",
             "/new/c.jar", ["/new/c.jar"]),
        ]
        for name, manifest, classpath, want in cases:
            with self.subTest(name):
                entries = self.run_on(manifest, classpath)
                self.assertEqual("bytecode", entries["Launcher.class"])
                attrs = self.attributes(entries["META-INF/MANIFEST.MF"])
                self.assertEqual("1.0", attrs["Manifest-Version"])
                self.assertEqual("17 (Debian)", attrs["Created-By"])
                if "Implementation-Title" in manifest:
                    self.assertEqual("é" * 60, attrs["Implementation-Title"])
                if want is None:
                    self.assertNotIn("Class-Path", attrs)
                else:
                    self.assertEqual(want, attrs["Class-Path"].split())

    def test_no_manifest(self):
        with tempfile.TemporaryDirectory() as d:
            jar, listing = os.path.join(d, "launcher.jar"), os.path.join(d, "classpath.txt")
            with zipfile.ZipFile(jar, "w") as z:
                z.writestr("Launcher.class", "bytecode")
            with open(listing, "w") as f:
                f.write("/new/c.jar")
            launcher.main(jar, listing)
            with zipfile.ZipFile(jar) as z:
                self.assertIn("Class-Path: /new/c.jar", z.read("META-INF/MANIFEST.MF").decode())


if __name__ == "__main__":
    unittest.main()
