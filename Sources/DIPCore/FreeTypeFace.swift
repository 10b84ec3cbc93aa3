import CCairo
import Foundation

/// The key under which a cairo font face keeps its FreeType library; cairo compares keys by
/// address, so it is allocated once and never freed.
nonisolated(unsafe) private let freeTypeLibraryKey = UnsafeMutablePointer<cairo_user_data_key_t>.allocate(capacity: 1)

/// One font file loaded straight through FreeType (never fontconfig, so no system font can stand
/// in), with a FreeType library of its own, ready to be handed to cairo as a font face. Text
/// masks (`TextMask`) and the report's figure labels both load their fonts through it.
///
/// One instance belongs to one thread: an FT_Library must not be used from two threads at once,
/// which is why every instance starts its own.
///
/// Ownership: until `cairoFace(loadFlags:)` succeeds, `deinit` frees the library (and with it the
/// face). After that cairo owns them and frees them through the font face's user data when it
/// drops its last reference; cairo may keep a face cached after the caller destroys its
/// reference, so the FreeType objects must not be freed any earlier.
package final class FreeTypeFace {
    /// The font file, as given; errors name it.
    package let path: String
    /// The file's first face. Valid while this object lives, or, after `cairoFace(loadFlags:)`,
    /// while cairo keeps the font face (sizing it then races with cairo, which sets sizes itself).
    package let face: FT_Face
    private let library: FT_Library
    private var ownedByCairo = false

    /// Loads the first face of the font file at `path`.
    ///
    /// Errors name the file: `DIPError.io` when FreeType cannot start or the file cannot be read
    /// (ending with `(missingHint)`), `DIPError.badFile` when it is readable but no font FreeType
    /// knows (ending with `; notAFontHint`). The hints say what the caller's user should do, which
    /// differs between a `--font` option and the project's own fonts folder.
    package init(path: String, missingHint: String, notAFontHint: String) throws {
        self.path = path
        var lib: FT_Library?
        guard FT_Init_FreeType(&lib) == 0, let lib else {
            throw DIPError.io(path: path, reason: "FreeType could not start (out of memory?)")
        }
        var face: FT_Face?
        let error = FT_New_Face(lib, path, 0, &face)
        guard error == 0, let face else {
            FT_Done_FreeType(lib)
            // FreeType reports a missing file, a folder and a corrupt one alike; tell them apart for the user.
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                throw DIPError.io(path: path, reason: "is a folder, not a font file; \(notAFontHint)")
            }
            if !FileManager.default.isReadableFile(atPath: path) {
                throw DIPError.io(path: path, reason: "cannot open the font file (\(missingHint))")
            }
            throw DIPError.badFile(path: path, reason: "not a font FreeType can read (FreeType error \(error)); \(notAFontHint)")
        }
        self.library = lib
        self.face = face
    }

    deinit {
        if !ownedByCairo { FT_Done_FreeType(library) }
    }

    /// Whether the face has a glyph for `scalar` (cairo draws the font's empty box for one it
    /// lacks; it has no fallback to another font).
    package func hasGlyph(_ scalar: Unicode.Scalar) -> Bool {
        FT_Get_Char_Index(face, FT_ULong(scalar.value)) != 0
    }

    /// True for outline (TrueType, OpenType) fonts, false for bitmap-only ones, which draw
    /// only at the sizes they carry.
    package var isScalable: Bool {
        face.pointee.face_flags & FT_Long(FT_FACE_FLAG_SCALABLE) != 0
    }

    /// A cairo font face for this FreeType face, loading glyphs with `loadFlags` (FT_LOAD_*).
    /// The caller owns the returned reference and destroys it with `cairo_font_face_destroy`;
    /// cairo takes over freeing the FreeType objects. Call it at most once.
    package func cairoFace(loadFlags: Int32) throws -> OpaquePointer {
        precondition(!ownedByCairo, "cairoFace(loadFlags:) called twice for \(path)")
        guard let cairoFace = cairo_ft_font_face_create_for_ft_face(face, loadFlags) else {
            throw DIPError.badFile(path: path, reason: "cairo cannot use this font")
        }
        let status = cairo_font_face_set_user_data(cairoFace, freeTypeLibraryKey, UnsafeMutableRawPointer(library)) { library in
            if let library { FT_Done_FreeType(OpaquePointer(library)) }
        }
        guard status == CAIRO_STATUS_SUCCESS else {
            // The user data never took hold, so the library is still ours: deinit frees it.
            cairo_font_face_destroy(cairoFace)
            throw DIPError.badFile(path: path, reason: "cairo cannot use this font (\(String(cString: cairo_status_to_string(status))))")
        }
        ownedByCairo = true
        return cairoFace
    }

    /// The FreeType library's version, e.g. "2.12.1", or nil when FreeType cannot start.
    package static var libraryVersion: String? {
        var library: FT_Library?
        guard FT_Init_FreeType(&library) == 0, let library else { return nil }
        defer { FT_Done_FreeType(library) }
        var major: FT_Int = 0, minor: FT_Int = 0, patch: FT_Int = 0
        FT_Library_Version(library, &major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
