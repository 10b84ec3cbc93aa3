import Testing
@testable import DIPEngine

@Suite("Gradient tensor pool")
struct TensorPoolTests {
    @Test("the gradient pool lends a released block again, a padded-size request included")
    func tensorPoolReuse() {
        let pool = TensorPool()
        var t: Tensor? = pool.tensor(FeatureShape(channels: 4, height: 32, width: 32))
        let first = t!.pointer
        t = nil
        let padded = pool.tensor(FeatureShape(channels: 4, height: 32, width: 33))
        #expect(padded.pointer == first)
        #expect(pool.tensor(FeatureShape(channels: 4, height: 32, width: 32)).pointer != first)
        #expect(pool.totalBytes >= 2 * 4 * 32 * 32 * 4)
    }
}
